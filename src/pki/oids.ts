/** Object identifiers the PKI checks for by value (RFC 8017 App. C, RFC 5480, RFC 5758, RFC 8410, RFC 5280 §4.2.1.12). */
export const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
export const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
export const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
export const OID_SHA384_WITH_RSA = '1.2.840.113549.1.1.12';
export const OID_SHA512_WITH_RSA = '1.2.840.113549.1.1.13';
export const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
export const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
export const OID_ECDSA_WITH_SHA512 = '1.2.840.10045.4.3.4';
/** Named curves (RFC 5480 §2.1.1.1, SEC 2). P-256 is the one the service accepts. */
export const OID_CURVE_P256 = '1.2.840.10045.3.1.7';
export const OID_CURVE_P384 = '1.3.132.0.34';
export const OID_CURVE_P521 = '1.3.132.0.35';
export const OID_CURVE_SECP256K1 = '1.3.132.0.10';
export const OID_ED25519 = '1.3.101.112';
export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
