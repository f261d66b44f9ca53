// phq for JavaScript: reader of formats 1.0/1.1 and runtime of NLU profiles 1-3 (spec/).
export { open, validate, Table, QUANT_NAMES, DTYPES, f16ToNumber } from "./reader.js";
export { FormatError, ProfileError, UsageError, PhqError } from "./errors.js";
export { crc32c } from "./crc32c.js";
export { load, NluModel, viterbi, labelSpans, tokenFeatures } from "./nlu.js";
export { decodeUtf8, stringToCodePoints, lowercase, stripAccents, tokenSpans, analyze, preprocess } from "./text.js";
