// token.ts: the auth token as profinferd writes it (auth_token.h: 32 random
// bytes as 64 hex characters). Checked before use so a pasted token with a
// typo gets a clear message instead of a round trip and "auth failed".

export const TOKEN_HEX_CHARS: number = 64;

export class TokenCheck {
  token: string = '';
  /** Non-empty: why the text is not a token. */
  error: string = '';
}

export function checkToken(text: string): TokenCheck {
  const r = new TokenCheck();
  const t = text.trim();
  if (t.length === 0) {
    r.error = 'no token: paste the contents of profinferd\'s auth_token file';
  } else if (t.length !== TOKEN_HEX_CHARS || !new RegExp('^[0-9a-fA-F]+$').test(t)) {
    r.error = `a token is ${TOKEN_HEX_CHARS} hex characters; this text has ${t.length} characters`;
  } else {
    r.token = t;
  }
  return r;
}
