"""CW rules for crypto mistakes models make and bandit misses: constant keys, IVs and salts, JWTs decoded without
verification, short RSA/DSA keys; and the argument helpers the TLS and XML rules (`tls_xml`) share.

Calls are matched by their dotted name as written (`AES.new`, `Crypto.Cipher.AES.new`: a name matches a pattern
when it is the pattern or ends with `.pattern`), so a buffer without its imports is judged too.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from libcst.helpers import get_full_name_for_node

from codeward.safety.rules import Rule

_STRINGS = (cst.SimpleString, cst.ConcatenatedString)


def call_name(node: cst.BaseExpression) -> str:
    """The dotted name of a call's function or an attribute chain (`Crypto.Cipher.AES.new`), "" for others."""
    return get_full_name_for_node(node) or ""


def _matches(name: str, patterns: dict[str, tuple[int | None, tuple[str, ...]]]
             ) -> tuple[int | None, tuple[str, ...]] | None:
    """The (position, keywords) of the argument that matters, when `name` is one of `patterns`."""
    for pattern, where in patterns.items():
        if name == pattern or name.endswith("." + pattern):
            return where
    return None


def argument(node: cst.Call, position: int | None, keywords: tuple[str, ...]) -> cst.BaseExpression | None:
    """The call's argument at `position` (positional) or named by one of `keywords`."""
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg.value
    positional = [a for a in node.args if a.keyword is None and not a.star]
    if position is not None and position < len(positional):
        return positional[position].value
    return None


def keyword(node: cst.Call, name: str) -> cst.BaseExpression | None:
    return next((a.value for a in node.args if a.keyword is not None and a.keyword.value == name), None)


def is_false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def literal(node: cst.BaseExpression | None) -> bool:
    """Bytes or text fixed in the source: a literal, `b"\\0" * 16`, `bytes(16)`, `bytes.fromhex("...")`,
    `"key".encode()` (after `resolve`, so names bound to one count too)."""
    if isinstance(node, _STRINGS):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return isinstance(node.left, _STRINGS) or isinstance(node.right, _STRINGS)
    if isinstance(node, cst.Call):
        name = call_name(node.func)
        args = [a.value for a in node.args]
        if name in ("bytes", "bytearray", "bytes.fromhex", "bytearray.fromhex", "binascii.unhexlify",
                    "base64.b64decode"):
            return bool(args) and all(isinstance(a, (cst.Integer, cst.List)) or literal(a) for a in args)
    return False


class Resolving(Rule):
    """A rule that sees through names: the last value assigned to a name or an attribute (`KEY = b"..."`,
    `self.iv = bytes(16)`) or given as a parameter's default (`def kdf(pw, salt="pepper")`) stands for it.
    Flow-insensitive within the file: good enough for constants, which are assigned once."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, cst.BaseExpression] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            name = call_name(target.target) if isinstance(target.target, (cst.Name, cst.Attribute)) else ""
            if name:
                self.values[name] = node.value

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:
            self.values[node.name.value] = node.default

    def resolve(self, node: cst.BaseExpression | None) -> cst.BaseExpression | None:
        """`node`, or the value its name stands for (a few names deep); `"k".encode()` resolves to `"k"`."""
        for _ in range(4):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value == "encode":
                node = node.func.value
            elif isinstance(node, (cst.Name, cst.Attribute)) and call_name(node) in self.values:
                node = self.values[call_name(node)]
            else:
                break
        return node

    def keyword(self, node: cst.Call, name: str) -> cst.BaseExpression | None:
        """A keyword argument's value, also through `**OPTIONS` bound to a dict literal or `dict(...)`."""
        found = keyword(node, name)
        if found is not None:
            return self.resolve(found)
        for arg in node.args:
            if arg.star != "**":
                continue
            opts = self.resolve(arg.value)
            if isinstance(opts, cst.Dict):
                for e in opts.elements:
                    if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) and \
                            e.key.evaluated_value == name:
                        return self.resolve(e.value)
            elif isinstance(opts, cst.Call) and call_name(opts.func) == "dict":
                return self.resolve(keyword(opts, name))
        return None


class _ConstantArgument(Resolving):
    """Base of the constant key / IV / salt rules: the argument that must be secret or random is fixed in the
    source, directly or through a name, an attribute or a parameter default bound to a literal."""

    CALLS: ClassVar[dict[str, tuple[int | None, tuple[str, ...]]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[cst.Call, cst.BaseExpression]] = []

    def visit_Call(self, node: cst.Call) -> None:
        where = _matches(call_name(node.func), self.CALLS)
        value = argument(node, *where) if where is not None else None
        if value is not None:
            self.calls.append((node, value))

    def leave_Module(self, original_node: cst.Module) -> None:
        for node, value in self.calls:  # at the end: a constant may be bound below its use (a method, a default)
            if literal(self.resolve(value)):
                self.report(node)


_CIPHERS = ("AES", "DES", "DES3", "ARC2", "ARC4", "Blowfish", "CAST", "ChaCha20", "Salsa20", "ChaCha20_Poly1305")


class ConstantKey(_ConstantArgument):
    """A key written in the source is known to everyone who can read it (and to every copy of the program)."""

    id = "CW113"
    kind = "security"
    cwe = 321
    severity = "medium"
    confidence = "medium"
    message = ("A cryptographic key is fixed in the source: load it from a secret store or the environment, or "
               "generate it (secrets.token_bytes, AESGCM.generate_key)")
    CALLS: ClassVar[dict[str, tuple[int | None, tuple[str, ...]]]] = {**{f"{c}.new": (0, ("key",)) for c in _CIPHERS},
             **{f"algorithms.{c}": (0, ("key",)) for c in ("AES", "TripleDES", "Camellia", "ChaCha20", "Blowfish",
                                                           "SM4", "CAST5", "IDEA", "SEED")},
             **{c: (0, ("key",)) for c in ("AESGCM", "AESCCM", "AESSIV", "AESOCB3", "ChaCha20Poly1305", "Fernet")},
             "hmac.new": (0, ("key",)), "hmac.digest": (0, ("key",)), "jwt.encode": (1, ("key",))}
    VALID = ("key = os.environ['APP_KEY'].encode()\ncipher = AES.new(key, AES.MODE_GCM)\n",
             "key = AESGCM.generate_key(bit_length=256)\naead = AESGCM(key)\n",
             "mac = hmac.new(settings.SECRET, msg, hashlib.sha256)\n",
             "token = jwt.encode(payload, current_app.config['SECRET_KEY'], algorithm='HS256')\n")
    INVALID = ("cipher = AES.new(b'0123456789abcdef', AES.MODE_CBC, iv)\n",
               "KEY = b'sixteen byte key'\ncipher = Cipher(algorithms.AES(KEY), modes.GCM(nonce))\n",
               "f = Fernet(b'ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=')\n",
               "sig = hmac.new('secret'.encode(), body, hashlib.sha256).hexdigest()\n",
               "token = jwt.encode({'user': uid}, 'changeme', algorithm='HS256')\n")


class ConstantIv(_ConstantArgument):
    """A fixed IV or nonce makes equal plaintexts encrypt alike (CBC) or gives the keystream away (CTR, GCM)."""

    id = "CW114"
    kind = "security"
    cwe = 329
    severity = "medium"
    confidence = "medium"
    message = ("The IV / nonce is fixed in the source: generate a fresh random one for every message "
               "(os.urandom(16)) and send it with the ciphertext")
    CALLS: ClassVar[dict[str, tuple[int | None, tuple[str, ...]]]] = {**{f"{c}.new": (2, ("iv", "nonce", "IV")) for c in _CIPHERS},
             **{f"modes.{m}": (0, ("initialization_vector", "nonce", "tweak")) for m in
                ("CBC", "CFB", "CFB8", "OFB", "CTR", "GCM", "XTS")}}
    VALID = ("iv = os.urandom(16)\nmode = modes.CBC(iv)\n",
             "cipher = AES.new(key, AES.MODE_CBC, get_random_bytes(16))\n",
             "cipher = AES.new(key, AES.MODE_GCM)\n")
    INVALID = ("mode = modes.CBC(b'\\x00' * 16)\n", "IV = b'abcdefghijklmnop'\nc = AES.new(key, AES.MODE_CBC, IV)\n",
               "c = AES.new(key, AES.MODE_CTR, nonce=bytes(8))\n",
               ("class E:\n    def __init__(self):\n        self.iv = bytes.fromhex('00' * 16)\n\n"
                "    def mode(self):\n        return modes.CBC(self.iv)\n"))


class ConstantSalt(_ConstantArgument):
    """A fixed salt lets one precomputed table crack every password hashed with it."""

    id = "CW115"
    kind = "security"
    cwe = 760
    severity = "medium"
    confidence = "medium"
    message = ("The password salt is fixed in the source: generate a random salt per password (os.urandom(16)) "
               "and store it with the hash, or use bcrypt.gensalt()")
    CALLS: ClassVar[dict[str, tuple[int | None, tuple[str, ...]]]] = {"hashlib.pbkdf2_hmac": (2, ("salt",)), "hashlib.scrypt": (None, ("salt",)),
             "PBKDF2HMAC": (2, ("salt",)), "Scrypt": (0, ("salt",)), "KDF.PBKDF2": (1, ("salt",)),
             "KDF.scrypt": (1, ("salt",)), "bcrypt.hashpw": (1, ("salt",)), "crypt.crypt": (1, ("salt",))}
    VALID = ("salt = os.urandom(16)\nh = hashlib.pbkdf2_hmac('sha256', pw, salt, 600_000)\n",
             "h = bcrypt.hashpw(pw, bcrypt.gensalt())\n", "ok = bcrypt.hashpw(pw, stored) == stored\n")
    INVALID = ("h = hashlib.pbkdf2_hmac('sha256', pw, b'salt', 100000)\n",
               ("SALT = 'pepper'.encode()\nkdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=SALT, "
                "iterations=480000)\n"),
               "h = hashlib.scrypt(pw, salt=b'fixed', n=2**14, r=8, p=1)\n",
               "def kdf(pw, salt='pepper'):\n    return hashlib.pbkdf2_hmac('sha256', pw, salt.encode(), 100000)\n")


class JwtWithoutVerification(Resolving):
    """A token decoded without checking its signature can be forged by anyone."""

    id = "CW116"
    kind = "security"
    cwe = 347
    severity = "high"
    confidence = "high"
    message = ("The JWT is decoded without verifying its signature: anyone can forge it; pass the key and "
               "algorithms=['HS256'] (or your algorithm), and never 'none'")
    VALID = ("claims = jwt.decode(token, key, algorithms=['HS256'])\n",
             "claims = jwt.decode(token, key, algorithms=['RS256'], options={'verify_exp': False})\n",
             "header = jwt.get_unverified_header(token)\n", "text = data.decode('utf-8')\n")
    INVALID = ("claims = jwt.decode(token, verify=False)\n",
               "claims = jwt.decode(token, options={'verify_signature': False})\n",
               "claims = jwt.decode(token, key, algorithms=['none'])\n",
               "from jose import jwt\nclaims = jwt.decode(token, key, options={\"verify_signature\": False})\n",
               "claims = jwt.get_unverified_claims(token)\nuser = claims['sub']\n",
               "opts = {'verify_signature': False}\nclaims = jwt.decode(t, key, algorithms=['RS256'], options=opts)\n")

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        name = call_name(node.func)
        if name == "jwt.get_unverified_claims" or name.endswith(".jwt.get_unverified_claims"):
            self.report(node)
        elif name.endswith("jwt.decode"):
            self.calls.append(node)

    def leave_Module(self, original_node: cst.Module) -> None:
        for node in self.calls:
            if self.unverified(node):
                self.report(node)

    def unverified(self, node: cst.Call) -> bool:
        options = self.keyword(node, "options")
        off = isinstance(options, cst.Dict) and any(
            isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) and
            e.key.evaluated_value == "verify_signature" and is_false(e.value) for e in options.elements)
        algorithms = self.keyword(node, "algorithms")
        none = isinstance(algorithms, (cst.List, cst.Tuple)) and any(
            isinstance(e.value, cst.SimpleString) and str(e.value.evaluated_value).lower() == "none"
            for e in algorithms.elements)
        return off or none or is_false(self.keyword(node, "verify"))


_KEY_GENERATORS = {"rsa.newkeys": (0, ("nbits",)), "RSAKey.generate": (0, ("bits",)),
                   "DSSKey.generate": (0, ("bits",)), "RSA.generate": (0, ("bits",)), "DSA.generate": (0, ("bits",)),
                   "generate_private_key": (1, ("key_size",)), "generate_key": (1, ("bits",))}


class ShortRsaKey(Resolving):
    """RSA and DSA keys under 2048 bits can be factored or broken with today's means."""

    id = "CW119"
    kind = "security"
    cwe = 326
    severity = "medium"
    confidence = "high"
    message = "The RSA/DSA key is shorter than 2048 bits, which is breakable: use 2048 bits or more (3072 for new keys)"
    VALID = ("pub, priv = rsa.newkeys(3072)\n", "key = paramiko.RSAKey.generate(bits=4096)\n",
             "k = ec.generate_private_key(ec.SECP384R1())\n")
    INVALID = ("pub, priv = rsa.newkeys(512)\n", "key = paramiko.RSAKey.generate(1024)\n",
               "pkey = crypto.PKey()\npkey.generate_key(crypto.TYPE_RSA, 1024)\n",
               "key = rsa.generate_private_key(public_exponent=65537, key_size=1024)\n",
               "BITS = 1024\nkey = paramiko.RSAKey.generate(bits=BITS)\n")

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[cst.Call, cst.BaseExpression]] = []

    def visit_Call(self, node: cst.Call) -> None:
        where = _matches(call_name(node.func), _KEY_GENERATORS)
        value = argument(node, *where) if where is not None else None
        if value is not None:
            self.calls.append((node, value))

    def leave_Module(self, original_node: cst.Module) -> None:
        for node, value in self.calls:
            size = self.resolve(value)
            if isinstance(size, cst.Integer) and size.evaluated_value < 2048:
                self.report(node)
