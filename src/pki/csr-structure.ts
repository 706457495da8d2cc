/**
 * The shape of a PKCS#10 CertificationRequest (RFC 2986 §4), read from a forge
 * ASN.1 tree. Only the parts the service uses are returned; the subject and
 * the requested extensions are deliberately ignored, since the service alone
 * decides what goes in a connector's certificate.
 */
import forge from 'node-forge';
import { toDer } from './forge-der.ts';

export interface CertificationRequestParts {
  /** The exact bytes the signature covers. */
  readonly infoDer: Buffer;
  readonly publicKeyInfoDer: Buffer;
  readonly publicKeyAlgorithm: string;
  /** The key algorithm's parameters when they are an OID: an EC key's named curve (RFC 5480 §2.1.1). */
  readonly publicKeyParameterOid: string | undefined;
  readonly signatureAlgorithm: string;
  /** Whether the signature AlgorithmIdentifier has parameters other than NULL. */
  readonly signatureHasParameters: boolean;
  readonly signature: Buffer;
}

const { Class, Type } = forge.asn1;

function isNode(node: forge.asn1.Asn1 | undefined, tagClass: forge.asn1.Class, type: number, constructed: boolean): node is forge.asn1.Asn1 {
  return node !== undefined && node.tagClass === tagClass && Number(node.type) === type && node.constructed === constructed;
}

function sequence(node: forge.asn1.Asn1 | undefined, minItems: number, maxItems: number): forge.asn1.Asn1[] | undefined {
  if (!isNode(node, Class.UNIVERSAL, Type.SEQUENCE, true) || !Array.isArray(node.value)) return undefined;
  return node.value.length >= minItems && node.value.length <= maxItems ? node.value : undefined;
}

function primitive(node: forge.asn1.Asn1 | undefined, type: number): string | undefined {
  if (!isNode(node, Class.UNIVERSAL, type, false) || typeof node.value !== 'string') return undefined;
  return node.value;
}

function algorithm(node: forge.asn1.Asn1 | undefined): { oid: string; hasParameters: boolean; parameterOid: string | undefined } | undefined {
  const items = sequence(node, 1, 2);
  const oid = primitive(items?.[0], Type.OID);
  if (!items || oid === undefined || oid.length === 0) return undefined;
  const parameters = items[1];
  const hasParameters = parameters !== undefined && primitive(parameters, Type.NULL) !== '';
  const parameterOid = primitive(parameters, Type.OID);
  return { oid: forge.asn1.derToOid(oid), hasParameters, parameterOid: parameterOid ? forge.asn1.derToOid(parameterOid) : undefined };
}

/** Returns undefined when the tree is not a CertificationRequest. */
export function readCertificationRequest(root: forge.asn1.Asn1): CertificationRequestParts | undefined {
  const top = sequence(root, 3, 3);
  if (!top) return undefined;
  const [info, signatureAlgorithmNode, signatureNode] = top;
  const infoItems = sequence(info, 4, 4);
  if (!info || !infoItems) return undefined;
  const [version, subject, publicKeyInfo, attributes] = infoItems;
  // CertificationRequestInfo version 0 (v1) is the only one defined.
  if (primitive(version, Type.INTEGER) !== '\x00') return undefined;
  if (!sequence(subject, 0, Number.MAX_SAFE_INTEGER)) return undefined;
  if (!isNode(attributes, Class.CONTEXT_SPECIFIC, 0, true)) return undefined;
  const keyItems = sequence(publicKeyInfo, 2, 2);
  const keyAlgorithm = algorithm(keyItems?.[0]);
  if (!publicKeyInfo || !keyAlgorithm || primitive(keyItems?.[1], Type.BITSTRING) === undefined) return undefined;
  const signatureAlgorithm = algorithm(signatureAlgorithmNode);
  const signatureBits = primitive(signatureNode, Type.BITSTRING);
  // The first octet of a BIT STRING counts unused bits; a signature uses whole octets.
  if (!signatureAlgorithm || signatureBits === undefined || !signatureBits.startsWith('\x00')) return undefined;
  return {
    infoDer: toDer(info),
    publicKeyInfoDer: toDer(publicKeyInfo),
    publicKeyAlgorithm: keyAlgorithm.oid,
    publicKeyParameterOid: keyAlgorithm.parameterOid,
    signatureAlgorithm: signatureAlgorithm.oid,
    signatureHasParameters: signatureAlgorithm.hasParameters,
    signature: Buffer.from(signatureBits.slice(1), 'binary'),
  };
}
