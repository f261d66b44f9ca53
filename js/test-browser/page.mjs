#!/usr/bin/env node
// Drives examples/web/index.html in headless Chromium (the system browser; puppeteer-core never
// downloads one) and prints what the page rendered, as JSON, for tests/test_js.py to compare with
// phq.nlu. Usage:
//   node js/test-browser/page.mjs --page examples/web/index.html --texts texts.json --out out.json \
//        [--upload model.phq --upload-texts texts2.json] [--screenshot page.png] [--chromium /usr/bin/chromium]
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";

const arg = (name, dflt) => { const i = process.argv.indexOf("--" + name); return i > 0 ? process.argv[i + 1] : dflt; };
export const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

export async function launch(chromium) {
  const profile = mkdtempSync(path.join(tmpdir(), "phq-chromium-"));
  const browser = await puppeteer.launch({ executablePath: chromium, args: [...FLAGS, `--user-data-dir=${profile}`], headless: true });
  return { browser, close: async () => { await browser.close(); rmSync(profile, { recursive: true, force: true }); } };
}

async function readRendered(page) {
  return page.evaluate(() => ({
    intent: document.getElementById("intent-name").textContent,
    score: document.getElementById("intent-score").textContent,
    slots: [...document.querySelectorAll("#slots tr")].map((tr) => ({ slot: tr.dataset.slot, value: tr.querySelector(".value").textContent,
      start: Number(tr.children[2].textContent), end: Number(tr.children[3].textContent) })),
    marks: [...document.querySelectorAll("#rendered mark")].map((m) => m.dataset.slot),
    result: document.getElementById("rendered").dataset.result || null,
  }));
}

async function typeAll(page, texts) {
  const out = [];
  for (const t of texts) {
    await page.click("#text", { clickCount: 3 });
    await page.keyboard.press("Backspace");
    await page.type("#text", t);
    out.push({ text: t, ...(await readRendered(page)) });
  }
  return out;
}

async function main() {
  const chromium = arg("chromium", "/usr/bin/chromium");
  const url = pathToFileURL(path.resolve(arg("page", "examples/web/index.html"))).href;
  const texts = JSON.parse(readFileSync(arg("texts"), "utf8"));
  const { browser, close } = await launch(chromium);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const requests = [], errors = [];
    let loaded = false;
    page.on("request", (r) => requests.push({ url: r.url().slice(0, 200), afterLoad: loaded }));
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url, { waitUntil: "load" });
    loaded = true;
    const status = await page.$eval("#status", (e) => e.textContent);
    const summary = await page.$eval("#summary", (e) => e.innerText);
    const typed = await typeAll(page, texts);
    let uploaded = null;
    if (arg("upload")) {
      const input = await page.$("#file");
      await input.uploadFile(path.resolve(arg("upload")));
      await page.waitForFunction((name) => document.getElementById("status").textContent.startsWith(name), {}, path.basename(arg("upload")));
      uploaded = { status: await page.$eval("#status", (e) => e.textContent), classes: await page.$$eval("#classes span", (s) => s.map((x) => x.textContent)),
        typed: await typeAll(page, JSON.parse(readFileSync(arg("upload-texts"), "utf8"))) };
      await page.click("#text", { clickCount: 3 }); await page.keyboard.press("Backspace");
    }
    if (arg("screenshot")) {
      if (arg("upload")) { // show the demo model again for the picture
        await page.evaluate(() => window.phqLoad(Uint8Array.from(atob(window.PHQ_DEMO_MODEL.base64), (c) => c.charCodeAt(0)), window.PHQ_DEMO_MODEL.name));
      }
      await page.click("#text", { clickCount: 3 }); await page.keyboard.press("Backspace");
      await page.type("#text", arg("screenshot-text", "play the new album by Daft Punk on Spotify in the kitchen"));
      await page.screenshot({ path: arg("screenshot"), fullPage: arg("full-page", "1") === "1" });
    }
    writeFileSync(arg("out"), JSON.stringify({ status, summary, typed, uploaded, requests, errors }, null, 1));
  } finally { await close(); }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main().catch((e) => { console.error(e); process.exit(1); });
