import type { IncomingHttpHeaders } from 'node:http'
import type { ClientInputs } from '../domain/client-rules.js'

/** The headers a restricted key is judged by; the attestation token from the header the option names. */
export function clientInputs (headers: IncomingHttpHeaders, attestationHeader: string | null): ClientInputs {
  return {
    origin: headers.origin,
    referer: headers.referer,
    androidPackage: headers['x-android-package'],
    androidCert: headers['x-android-cert'],
    iosBundle: headers['x-ios-bundle-identifier'],
    attestationToken: attestationHeader === null ? undefined : headers[attestationHeader]
  }
}
