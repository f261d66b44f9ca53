import type { Model, OpenOptions } from "./index.js";
/** The bytes of a regular file; a FIFO, device, socket or directory is refused (UsageError) before any read. */
export function readModelFile(path: string): Uint8Array;
export function openFile(path: string, options?: OpenOptions): Model;
export function validateFile(path: string, options?: OpenOptions): Model;
