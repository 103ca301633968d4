import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createSigner } from 'fast-jwt'
import type { Teardown } from './services.js'

/** An RS256 signing key of a test provider, with its kid. */
export interface SigningKey {
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
}

export function signingKey (kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, privateKey, publicKey }
}

export const ISSUER = 'https://firebaseappcheck.googleapis.com/123456789'
export const AUDIENCE = ['projects/123456789', 'projects/demo-app']

/** A token as Firebase App Check issues it: RS256, kid, iss, aud, sub, an hour of life; `claims` override. */
export function appCheckToken (key: SigningKey, claims: Record<string, unknown> = {}, { expiresInMs = 60 * 60 * 1000, kid = key.kid } = {}): string {
  // A given exp is kept as it is: the signer would replace it with one from expiresIn.
  const expiresIn = claims.exp === undefined ? expiresInMs : undefined
  const sign = createSigner({ key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, algorithm: 'RS256', kid, expiresIn, clockTimestamp: Date.now() })
  return sign({ iss: ISSUER, aud: AUDIENCE, sub: '1:123456789:android:abc', ...claims })
}

/** How the endpoint behaves: serves the keys, answers 500, sends garbage, or never answers. */
export type JwksMode = 'serve' | 'error' | 'garbage' | 'huge' | 'no-rsa-key' | 'no-keys-array' | 'hang'

/**
 * A JWKS endpoint on a free loopback port, stopped when the test ends. `keys` is what it publishes (rotate by
 * assigning), `fetches` counts the requests it received, `stop()` takes it down (connections refused).
 */
export interface JwksServer {
  url: string
  keys: SigningKey[]
  mode: JwksMode
  fetches: number
  stop (): Promise<void>
}

export async function startJwksServer (t: Teardown, keys: SigningKey[]): Promise<JwksServer> {
  const sockets = new Set<Socket>()
  const state: JwksServer = {
    url: '',
    keys,
    mode: 'serve',
    fetches: 0,
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    state.fetches += 1
    if (state.mode === 'hang') return
    if (state.mode === 'error') {
      response.writeHead(500).end('{"error":"down"}')
      return
    }
    if (state.mode === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [{"kty": "RSA", "kid": "x", "n": "!!", "e": "AQAB"}, 42], "')
      return
    }
    if (state.mode === 'no-rsa-key' || state.mode === 'no-keys-array') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(state.mode === 'no-rsa-key' ? '{"keys": [{"kty": "EC", "kid": "ec"}]}' : '[]')
      return
    }
    if (state.mode === 'huge') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(`{"keys": [], "padding": "${'x'.repeat(1024 * 1024)}"}`)
      return
    }
    const published = state.keys.map(({ kid, publicKey }) => ({ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }))
    // Beside the keys, entries a client must skip: another kind, another use, a malformed modulus.
    const skipped = [{ kty: 'EC', kid: 'ec' }, { ...published[0], kid: 'enc', use: 'enc' }, { kty: 'RSA', kid: 'broken', n: 42, e: 'AQAB' }, null]
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [...skipped, ...published] }))
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/jwks`
  t.teardown(async () => { if (server.listening) await state.stop() })
  return state
}
