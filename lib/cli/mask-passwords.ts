/** What stands for a password in every text the CLI prints. */
export const MASK = '***'

/**
 * A parameter, in a URL's query (`?password=`, `&sslpassword=`) or a `key=value` connection string
 * (`host=db password = 'a b'`): its name, then its value up to the next `&`, `#` or blank, or a quoted value.
 */
const PARAMETER = /(^|[?&;\s"'(])([^=&?#;\s"'(]+)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&#\s]*)/g

/** The name of a parameter that carries a secret: password, sslpassword, passwd, pwd, db_secret, token, auth… */
const SECRET_NAME = /^(?:[a-z_]*pass(?:word|wd)?|[a-z_]*pwd|[a-z_]*secret|[a-z_]*token|auth)$/i

/** A value masked already, perhaps followed by the punctuation of the sentence that quotes it. */
const ALREADY_MASKED = /^\*\*\*[.,;:)\]]*$/

/** A scheme followed by `//`, where a URL's user information begins. */
const AUTHORITY_START = /[a-z][a-z0-9+.-]*:\/\//i

/** Schemes whose user information may be a password alone (`redis://secret@host`, as older clients read it). */
const PASSWORD_ONLY_USERINFO = /^rediss?:\/\/$/i

/**
 * A store string safe to print: the password of its user information replaced by ***, and every secret
 * parameter's value too. Works on the text, never through a URL parser, so that what a parser refuses or reads
 * otherwise is masked all the same: a password holding `/`, `#`, `?` or `@` (`postgres://u:Sup/3rS3cret@h/db`,
 * which no parser reads as a password), a missing `//`, a libpq `key=value` string. It masks more rather than
 * less: everything from the user name's `:` to the last `@` is taken as the password.
 */
export function maskStoreString (text: string): string {
  return maskParameters(maskUserinfo(text))
}

/**
 * Any text the CLI prints (a message, what to do next), with every store string in it masked: first each of
 * `known` (the store strings the CLI was given, which may hold blanks or quotes) wherever it appears as it is or
 * JSON-escaped, then every word that looks like one.
 */
export function maskPasswords (text: string, known: Iterable<string> = []): string {
  // Each known string becomes a placeholder first, so that the word pass neither splits it nor masks its masked
  // form again (a value's mask would swallow the full stop after it).
  const masks: string[] = []
  let masked = text
  for (const raw of known) {
    const safe = maskStoreString(raw)
    if (raw === '' || safe === raw) continue
    for (const [from, to] of [[raw, safe], [JSON.stringify(raw).slice(1, -1), JSON.stringify(safe).slice(1, -1)]]) {
      masked = masked.replaceAll(from, `\uE000${masks.push(to) - 1}\uE000`)
    }
  }
  return maskParameters(masked).replace(/[^\s\uE000]+/g, maskUserinfo).replace(/\uE000(\d+)\uE000/g, (whole, index: string) => masks[Number(index)])
}

function maskUserinfo (text: string): string {
  const at = text.lastIndexOf('@')
  if (at === -1) return text
  const head = text.slice(0, at)
  const authority = AUTHORITY_START.exec(head)
  // Without a scheme and `//`, the user information starts at the first letter or digit (past a quote or bracket).
  const start = authority === null ? Math.max(0, head.search(/[a-z0-9]/i)) : authority.index + authority[0].length
  const userinfo = head.slice(start)
  const colon = userinfo.indexOf(':')
  if (colon !== -1) return `${head.slice(0, start + colon + 1)}${MASK}${text.slice(at)}`
  if (authority !== null && userinfo !== '' && PASSWORD_ONLY_USERINFO.test(authority[0])) return `${head.slice(0, start)}${MASK}${text.slice(at)}`
  return text
}

function maskParameters (text: string): string {
  return text.replace(PARAMETER, (whole, before: string, name: string, equals: string, value: string) =>
    value === '' || ALREADY_MASKED.test(value) || !SECRET_NAME.test(decoded(name)) ? whole : `${before}${name}${equals}${MASK}`)
}

/** A parameter's name as a URL parser reads it (`pass%77ord` is `password`). */
function decoded (name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '))
  } catch {
    return name
  }
}
