import t from 'tap'
import { decodePunycode, isPunycodeLabel } from '../../lib/domain/punycode.js'

const codePoints = (text: string): number[] => [...text].map((character) => character.codePointAt(0) as number)

t.test('decodePunycode decodes the samples of the punycode specification', async (t) => {
  // Arabic (Egyptian), Chinese (simplified), and Japanese with basic code points before the delimiter.
  t.same(decodePunycode('egbpdaj6bu4bxfgehfvwxn'), codePoints('ليهمابتكلموشعربي؟'))
  t.same(decodePunycode('ihqwcrb4cv8a8dqg056pqjye'), codePoints('他们为什么不说中文'))
  t.same(decodePunycode('3b-ww4c5e180e575a65lsy2b'), codePoints('3年b組金八先生'))
  t.same(decodePunycode('bcher-kva'), codePoints('bücher'))
  t.same(decodePunycode('abc-'), codePoints('abc'), 'basic code points alone, before a final delimiter')
  t.same(decodePunycode(''), [])
})

t.test('decodePunycode refuses what does not decode', async (t) => {
  t.equal(decodePunycode('9'), null, 'a number cut short')
  t.equal(decodePunycode('0'), null, 'a number cut short (xn--0)')
  t.equal(decodePunycode('a_b'), null, 'a character that is no digit')
  t.equal(decodePunycode('-tda'), null, 'a delimiter with nothing before it')
  t.equal(decodePunycode('9w69rbc'), null, 'a code point above U+10FFFF')
  t.equal(decodePunycode('9'.repeat(12)), null, 'a number too large for 31 bits')
})

t.test('isPunycodeLabel accepts internationalised names as browsers write them', async (t) => {
  for (const label of ['xn--bcher-kva', 'xn--mnchen-3ya', 'xn--55qx5d', 'xn--ihqwcrb4cv8a8dqg056pqjye', 'xn--egbpdaj6bu4bxfgehfvwxn']) {
    t.ok(isPunycodeLabel(label), label)
  }
})

t.test('isPunycodeLabel refuses labels that decode to no name', async (t) => {
  const refused: Array<[string, string]> = [
    ['xn--', 'nothing'],
    ['xn--0', 'no punycode'],
    ['xn--abc-', 'ASCII alone, which is written without xn--'],
    ['xn--a', 'U+0080, a control character'],
    ['xn--ib9b', 'a lone surrogate'],
    ['xn--0y0c', 'a private-use character'],
    ['xn--zva', 'an unassigned code point'],
    ['xn--umc', 'a combining mark first'],
    ['xn--wca', 'an uppercase Ü, which a browser writes ü'],
    ['xn--5xk', '㎞, which a browser writes km']
  ]
  for (const [label, why] of refused) t.notOk(isPunycodeLabel(label), `${label}: ${why}`)
})
