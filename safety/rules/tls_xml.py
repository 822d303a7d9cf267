"""CW rules for TLS and XML mistakes models make and bandit misses: certificate or host-name checks turned off, old
protocol versions, XML parsers told to resolve external entities. Calls are matched by their dotted name as written,
as in `crypto`, whose argument helpers these share."""

from __future__ import annotations

import libcst as cst

from codeward.safety.rules import Rule
from codeward.safety.rules.crypto import Resolving, call_name, is_false, is_true, keyword

_AIOHTTP_CALLS = frozenset({"get", "post", "put", "delete", "patch", "head", "options", "request", "ws_connect",
                            "TCPConnector"})


class TlsVerificationOff(Rule):
    """Turning certificate or host-name checks off lets anyone on the path read and change the traffic; bandit's
    B501 sees `verify=False` in requests and httpx calls, not these."""

    id = "CW117"
    kind = "security"
    cwe = 295
    severity = "high"
    confidence = "high"
    message = ("TLS certificate or host-name verification is turned off: anyone on the network path can "
               "impersonate the server; keep the defaults of ssl.create_default_context()")
    VALID = ("ctx = ssl.create_default_context()\nctx.check_hostname = True\n",
             "ctx.verify_mode = ssl.CERT_REQUIRED\n", "if ctx.verify_mode == ssl.CERT_NONE:\n    warn()\n",
             "pool = urllib3.PoolManager(cert_reqs='CERT_REQUIRED')\n", "conn = asyncpg.connect(dsn, ssl=False)\n")
    INVALID = ("ctx = ssl.create_default_context()\nctx.check_hostname = False\nctx.verify_mode = ssl.CERT_NONE\n",
               "pool = urllib3.PoolManager(cert_reqs='CERT_NONE')\n",
               "async with session.get(url, ssl=False) as resp:\n    pass\n",
               "session = requests.Session()\nsession.verify = False\n",
               "ssl._create_default_https_context = ssl._create_unverified_context\n")

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            attr = target.target.attr.value if isinstance(target.target, cst.Attribute) else ""
            value = node.value
            if (attr in ("check_hostname", "verify") and is_false(value)) or \
                    (attr == "verify_mode" and call_name(value).endswith("CERT_NONE")) or \
                    call_name(value).endswith("_create_unverified_context"):
                self.report(node)
                return

    def visit_Call(self, node: cst.Call) -> None:
        reqs = keyword(node, "cert_reqs")
        if reqs is not None and ((isinstance(reqs, cst.SimpleString) and reqs.evaluated_value == "CERT_NONE") or
                                 call_name(reqs).endswith("CERT_NONE")):
            self.report(node)
            return
        func = node.func
        method = func.attr.value if isinstance(func, cst.Attribute) else call_name(func)
        if method in _AIOHTTP_CALLS and (is_false(keyword(node, "ssl")) or is_false(keyword(node, "verify_ssl"))):
            self.report(node)


_OLD_PROTOCOLS = frozenset({"PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1",
                            "TLSVersion.SSLv3", "TLSVersion.TLSv1", "TLSVersion.TLSv1_1", "SSLv2_METHOD",
                            "SSLv3_METHOD", "TLSv1_METHOD", "TLSv1_1_METHOD"})


def _old_protocol(node: cst.BaseExpression) -> bool:
    name = call_name(node) if isinstance(node, (cst.Attribute, cst.Name)) else ""
    return any(name == p or name.endswith("." + p) for p in _OLD_PROTOCOLS)


class OldTlsProtocol(Rule):
    """SSL 2/3 and TLS 1.0/1.1 have known attacks and are disabled by current servers and browsers."""

    id = "CW118"
    kind = "security"
    cwe = 327
    severity = "medium"
    confidence = "high"
    message = ("An obsolete SSL/TLS version (SSLv2/3, TLS 1.0/1.1) is selected: use ssl.create_default_context() "
               "or set minimum_version = ssl.TLSVersion.TLSv1_2")
    VALID = ("ctx.minimum_version = ssl.TLSVersion.TLSv1_2\n", "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n",
             "if proto == ssl.PROTOCOL_TLSv1:\n    raise ValueError(proto)\n", "ctx.options |= ssl.OP_NO_TLSv1\n",
             "NAMES[ssl.PROTOCOL_TLSv1] = OpenSSL.SSL.TLSv1_METHOD\n")
    INVALID = ("ctx.minimum_version = ssl.TLSVersion.TLSv1\n", "PROTOCOL = ssl.PROTOCOL_SSLv3\n", "ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)\n",
               "ctx = SSL.Context(SSL.TLSv1_1_METHOD)\n")

    def visit_Assign(self, node: cst.Assign) -> None:
        # an entry of a table (`versions[ssl.PROTOCOL_TLSv1] = ...`) maps names; it selects nothing
        if _old_protocol(node.value) and not any(isinstance(t.target, cst.Subscript) for t in node.targets):
            self.report(node)

    def visit_Call(self, node: cst.Call) -> None:
        if any(_old_protocol(a.value) for a in node.args):
            self.report(node)


_EXTERNAL_FEATURES = ("feature_external_ges", "feature_external_pes",
                      "http://xml.org/sax/features/external-general-entities",
                      "http://xml.org/sax/features/external-parameter-entities")


class XmlExternalEntities(Resolving):
    """A parser told to resolve external entities reads local files or URLs an XML document names (XXE)."""

    id = "CW120"
    kind = "security"
    cwe = 611
    severity = "high"
    confidence = "high"
    message = ("The XML parser is told to resolve external entities (XXE: the document can read local files and "
               "make requests): keep resolve_entities=False / the feature off, or parse with defusedxml")
    VALID = ("parser = etree.XMLParser(resolve_entities=False, no_network=True)\n",
             "parser.setFeature(feature_external_ges, False)\n", "doc = xmltodict.parse(text)\n")
    INVALID = ("parser = etree.XMLParser(resolve_entities=True)\n",
               "parser = lxml.etree.XMLParser(no_network=False)\n",
               "p = xml.sax.make_parser()\np.setFeature(feature_external_ges, True)\n",
               "doc = xmltodict.parse(text, disable_entities=False)\n",
               "OPTS = dict(resolve_entities=True)\nparser = etree.XMLParser(**OPTS)\n")

    def visit_Call(self, node: cst.Call) -> None:
        name = call_name(node.func)
        if name.endswith("XMLParser") and (is_true(self.keyword(node, "resolve_entities")) or
                                           is_false(self.keyword(node, "no_network"))):
            self.report(node)
        elif name.endswith("setFeature") and len(node.args) >= 2 and is_true(node.args[1].value):
            first = node.args[0].value
            feature = first.evaluated_value if isinstance(first, cst.SimpleString) else call_name(first)
            if any(str(feature).endswith(f) for f in _EXTERNAL_FEATURES):
                self.report(node)
        elif name.endswith("xmltodict.parse") and is_false(keyword(node, "disable_entities")):
            self.report(node)
