// Error types of the phq spec: FormatError (format §11 codes), ProfileError (NLU profile v2 §9),
// UsageError (the caller's mistakes: unknown table, bad input text, probabilities of a model without them).

export class PhqError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.code = code;
    this.detail = message || "";
  }
}

/** Bad bytes: `code` is a name of format spec §11 (E_TRUNCATED, E_CHECKSUM, ...). */
export class FormatError extends PhqError {
  constructor(code, message) { super(code, message); this.name = "FormatError"; }
}

/** A valid file that is not a valid NLU model: `code` is E_NLU_* (profile v2 §9, v3 §8). */
export class ProfileError extends PhqError {
  constructor(code, message) { super(code, message); this.name = "ProfileError"; }
}

/** The caller's mistake (format §11 last paragraph, profile v2 §9 "input errors"). */
export class UsageError extends PhqError {
  constructor(code, message) { super(code, message); this.name = "UsageError"; }
}
