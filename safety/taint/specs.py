"""What the taint engine knows, as data: where untrusted values enter (sources), what makes them harmless for one
kind of sink (sanitisers), and where they do harm (sinks, each a CW2xx rule with its CWE).

Every entry carries INVALID examples (a flow the engine must report) and VALID ones (the safe form: sanitised, or
the API used safely, never reported); the test suite runs them all. Names are matched after import aliases are
resolved (`import subprocess as sp` -> `subprocess.run`); a name the buffer never imports is matched as written,
because a half-written buffer often has no imports yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeward.safety.taint.sources import (  # noqa: F401 (re-exported: the engine's one table module)
    CLI,
    ERROR,
    ERROR_CWE,
    FLASK,
    SANITISERS,
    SOCKET,
    SOURCES,
    WEB,
    SanitiserSpec,
    SourceSpec,
)

KIND = "security"  # every sink is a security weakness: untrusted data where it does harm
SHELL_CWES = frozenset({78, 94, 95, 89, 502})  # where a command-line value is still reported (low confidence)


@dataclass(frozen=True)
class SinkSpec:
    """A call where an untrusted value does harm: a call of a qualified name in `calls`, or a method named in
    `methods` on any object; the value that matters is positional argument `arg` (None: any) or keyword
    `keyword`. `when`: an extra condition (`shell`: shell=True; `argv0`: the program itself is untrusted;
    `unsafe_yaml`: no safe Loader; `headers`: a method of an object named `headers`). `at="return"`: a rule
    without calls, reported at a value a route handler returns. CW213 is also reported where an item is stored
    into `*.headers[...]`."""

    rule: str
    cwe: int
    severity: str
    what: str
    message: str
    calls: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    arg: int | None = 0
    keyword: str | None = None
    when: str | None = None
    INVALID: tuple[str, ...] = ()
    VALID: tuple[str, ...] = ()
    at: str | None = None  # "return": reported at a handler's return, not at a call

    @property
    def cli(self) -> bool:
        """Whether a command-line value reaching this sink is reported (shell, code, SQL, deserialisers)."""
        return self.cwe in SHELL_CWES


_SQL_DB = "import sqlite3\ndb = sqlite3.connect('app.db')\n"

SINKS: tuple[SinkSpec, ...] = (
    SinkSpec("CW201", 22, "medium", "a file path", "Untrusted data reaches a file path (path traversal): keep "
             "the name with secure_filename() or check realpath() stays inside the base folder",
             calls=("open", "io.open", "os.open", "os.remove", "os.unlink", "os.rmdir", "os.removedirs",
                    "shutil.rmtree", "shutil.copy", "shutil.copyfile", "shutil.copy2", "shutil.move",
                    "flask.send_file", "send_file", "os.listdir", "os.scandir"),
             INVALID=(FLASK + "@app.route('/dl')\ndef dl():\n    return send_file(request.args['f'])\n",
                      FLASK + "@app.route('/rm', methods=['POST'])\ndef rm():\n"
                      "    os.remove(os.path.join('/srv/data', request.form['name']))\n    return 'ok'\n"),
             VALID=(FLASK + "@app.route('/dl')\ndef dl():\n    return send_file(os.path.join('/srv', "
                    "secure_filename(request.args['f'])))\n",
                    FLASK + "@app.route('/dl')\ndef dl():\n    return send_file('/srv/report.pdf')\n")),
    SinkSpec("CW201", 22, "medium", "a file path", "Untrusted data reaches a file path (path traversal): keep "
             "the name with secure_filename() or check the resolved path stays inside the base folder",
             methods=("read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir", "open"),
             when="receiver",
             INVALID=(FLASK + "@app.route('/dl')\ndef dl():\n    return (Path(BASE) / request.args['f']).read_text()\n",),
             VALID=(FLASK + "@app.route('/dl')\ndef dl():\n    ext = Path(request.args['f']).suffix\n"
                    "    return (Path(BASE) / ('report' + ('.txt' if ext == '.txt' else '.csv'))).read_text()\n",)),
    SinkSpec("CW202", 78, "high", "a shell command", "Untrusted data reaches a shell command (command "
             "injection): pass an argument list without shell=True, or quote with shlex.quote()",
             calls=("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput", "commands.getoutput"),
             INVALID=(FLASK + "@app.route('/ping')\ndef ping():\n"
                      "    return os.popen('ping -c 1 ' + request.args['host']).read()\n",),
             VALID=(FLASK + "@app.route('/ping')\ndef ping():\n"
                    "    return subprocess.run(['ping', '-c', '1', request.args['host']]).stdout\n",)),
    SinkSpec("CW202", 78, "high", "a shell command", "Untrusted data reaches a shell command run with "
             "shell=True (command injection): pass an argument list without shell=True",
             calls=("subprocess.run", "subprocess.call", "subprocess.Popen", "subprocess.check_output",
                    "subprocess.check_call"), when="shell",
             INVALID=(FLASK + "@app.route('/ls')\ndef ls():\n"
                      "    return subprocess.check_output('ls ' + request.args['d'], shell=True)\n",),
             VALID=(FLASK + "@app.route('/ls')\ndef ls():\n"
                    "    return subprocess.check_output(['ls', '--', request.args['d']])\n",)),
    SinkSpec("CW202", 78, "high", "the program to run", "Untrusted data chooses the program to run (command "
             "injection): run a fixed program and pass the data as its arguments",
             calls=("subprocess.run", "subprocess.call", "subprocess.Popen", "subprocess.check_output",
                    "subprocess.check_call", "os.execv", "os.execvp", "os.spawnv"), when="argv0",
             INVALID=(FLASK + "@app.route('/x')\ndef x():\n    subprocess.run([request.args['tool'], '-v'])\n"
                      "    return 'ok'\n",),
             VALID=(FLASK + "@app.route('/x')\ndef x():\n    subprocess.run(['convert', request.args['img']])\n"
                    "    return 'ok'\n",)),
    SinkSpec("CW203", 94, "high", "code that is run", "Untrusted data is run as Python code (code injection): "
             "parse data with ast.literal_eval() or json.loads() instead",
             calls=("eval", "exec", "compile", "builtins.eval", "builtins.exec"),
             INVALID=(FLASK + "@app.route('/calc')\ndef calc():\n    return str(eval(request.args['e']))\n",),
             VALID=(FLASK + "@app.route('/calc')\ndef calc():\n"
                    "    return str(ast.literal_eval(request.args['e']))\n",)),
    SinkSpec("CW204", 89, "high", "an SQL query", "Untrusted data is part of an SQL query (SQL injection): pass "
             "it as a query parameter, cursor.execute(sql, params)",
             methods=("execute", "executemany", "executescript", "raw", "mogrify"),
             INVALID=(_SQL_DB + FLASK + "@app.route('/u')\ndef u():\n"
                      "    q = \"SELECT * FROM users WHERE name = '\" + request.args['n'] + \"'\"\n"
                      "    return str(db.execute(q).fetchall())\n",),
             VALID=(_SQL_DB + FLASK + "@app.route('/u')\ndef u():\n"
                    "    return str(db.execute('SELECT * FROM users WHERE name = ?', (request.args['n'],))"
                    ".fetchall())\n",)),
    SinkSpec("CW205", 79, "medium", "an HTML response", "Untrusted data is returned as HTML (cross-site "
             "scripting): escape it with markupsafe.escape(), or render a template",
             calls=("flask.make_response", "make_response", "flask.render_template_string",
                    "render_template_string", "markupsafe.Markup", "flask.Markup", "Markup",
                    "django.http.HttpResponse", "HttpResponse"),
             INVALID=(FLASK + "@app.route('/hi')\ndef hi():\n"
                      "    return make_response('<h1>' + request.args['name'] + '</h1>')\n",),
             VALID=(FLASK + "@app.route('/hi')\ndef hi():\n"
                    "    return render_template('hi.html', name=request.args['name'])\n",)),
    SinkSpec("CW206", 601, "medium", "a redirect", "Untrusted data chooses where to redirect (open redirect): "
             "redirect only to URLs on an allow-list, or to your own routes with url_for()",
             calls=("flask.redirect", "redirect", "django.shortcuts.redirect", "HttpResponseRedirect",
                    "django.http.HttpResponseRedirect", "RedirectResponse", "starlette.responses.RedirectResponse"),
             INVALID=(FLASK + "@app.route('/login')\ndef login():\n    return redirect(request.args['next'])\n",),
             VALID=(FLASK + "@app.route('/login')\ndef login():\n    nxt = request.args['next']\n"
                    "    if nxt in ALLOWED_PAGES:\n        return redirect(nxt)\n    return redirect('/')\n",)),
    SinkSpec("CW207", 918, "medium", "a server-side request", "Untrusted data chooses the URL the server "
             "fetches (server-side request forgery): allow-list the host before fetching",
             calls=("requests.get", "requests.post", "requests.put", "requests.delete", "requests.head",
                    "requests.patch", "requests.request", "urllib.request.urlopen", "urlopen",
                    "urllib.request.Request", "httpx.get", "httpx.post", "httpx.request", "http.client.HTTPConnection",
                    "http.client.HTTPSConnection"),
             INVALID=(FLASK + "@app.route('/fetch')\ndef fetch():\n"
                      "    return requests.get(request.args['url'], timeout=5).text\n",),
             VALID=(FLASK + "@app.route('/fetch')\ndef fetch():\n    url = request.args['url']\n"
                    "    if urlparse(url).netloc not in ALLOWED_HOSTS:\n        abort(400)\n"
                    "    return requests.get(url, timeout=5).text\n",)),
    SinkSpec("CW207", 918, "medium", "a server-side request", "Untrusted data chooses the URL the server "
             "fetches (server-side request forgery): allow-list the host before fetching",
             methods=("get", "post", "put", "delete", "head", "patch", "options", "stream"), keyword="url",
             when="client",
             INVALID=(FLASK + "http = requests.Session()\n\n@app.route('/f')\ndef f():\n"
                      "    return http.get(request.args['url'], timeout=5).text\n",
                      ("@router.post('/hook')\nasync def hook(url: str):\n    async with httpx.AsyncClient() as c:\n"
                       "        r = await c.post(url, json={})\n    return r.status_code\n")),
             VALID=(FLASK + "http = requests.Session()\n\n@app.route('/f')\ndef f():\n"
                    "    return http.get(API, params={'q': request.args['q']}, timeout=5).text\n",
                    FLASK + "@app.route('/f')\ndef f():\n    return str(CACHE.get(request.args['k']))\n")),
    SinkSpec("CW207", 918, "medium", "a server-side request", "Untrusted data chooses the URL the server "
             "fetches (server-side request forgery): allow-list the host before fetching",
             methods=("request", "urlopen"), arg=1, keyword="url", when="client",
             INVALID=(FLASK + "pool = urllib3.PoolManager()\n\n@app.route('/f')\ndef f():\n"
                      "    return pool.request('GET', request.args['url']).data\n",),
             VALID=(FLASK + "pool = urllib3.PoolManager()\n\n@app.route('/f')\ndef f():\n"
                    "    return pool.request('GET', API, fields={'q': request.args['q']}).data\n",)),
    SinkSpec("CW208", 502, "high", "a deserialiser", "Untrusted data is deserialised with a loader that can run "
             "code: use json, or yaml.safe_load()",
             calls=("pickle.loads", "pickle.load", "cPickle.loads", "marshal.loads", "dill.loads",
                    "jsonpickle.decode", "shelve.open", "yaml.load", "yaml.unsafe_load", "yaml.load_all"),
             when="unsafe_yaml",
             INVALID=(FLASK + "@app.route('/cfg', methods=['POST'])\ndef cfg():\n"
                      "    return str(yaml.load(request.data, Loader=yaml.Loader))\n",),
             VALID=(FLASK + "@app.route('/cfg', methods=['POST'])\ndef cfg():\n"
                    "    return str(yaml.safe_load(request.data))\n",
                    FLASK + "@app.route('/cfg', methods=['POST'])\ndef cfg():\n"
                    "    return str(yaml.load(request.data, Loader=yaml.SafeLoader))\n")),
    SinkSpec("CW209", 117, "low", "a log line", "Untrusted data is written to the log as it came (log "
             "injection): strip line breaks first, or log it with %r",
             methods=("debug", "info", "warning", "warn", "error", "critical", "exception"), arg=None,
             INVALID=(FLASK + "@app.route('/l')\ndef l():\n    log.info('user ' + request.args['u'])\n"
                      "    return 'ok'\n",),
             VALID=(FLASK + "@app.route('/l')\ndef l():\n    log.info('user %r', request.args['u'].isalnum())\n"
                    "    return 'ok'\n",)),
    SinkSpec("CW210", 730, "medium", "a regular expression", "Untrusted data is compiled as a regular "
             "expression (ReDoS, CWE-1333): escape it with re.escape() or match it as plain text",
             calls=("re.compile", "re.search", "re.match", "re.fullmatch", "re.findall", "re.finditer", "re.sub",
                    "re.split", "regex.compile"),
             INVALID=(FLASK + "@app.route('/grep')\ndef grep():\n"
                      "    return str(re.findall(request.args['p'], TEXT))\n",),
             VALID=(FLASK + "@app.route('/grep')\ndef grep():\n"
                    "    return str(re.findall('[a-z]+', request.args['p']))\n",)),
    SinkSpec("CW211", 90, "high", "an LDAP filter", "Untrusted data is part of an LDAP search filter (LDAP "
             "injection): escape it with ldap.filter.escape_filter_chars() (ldap3: escape_filter_chars)",
             methods=("search_s", "search_st", "search_ext", "search_ext_s"), arg=2, keyword="filterstr",
             INVALID=(FLASK + "@app.route('/who')\ndef who():\n"
                      "    return str(conn.search_s(BASE, ldap.SCOPE_SUBTREE, '(uid=' + request.args['u'] + ')'))\n",),
             VALID=(FLASK + "@app.route('/who')\ndef who():\n"
                    "    return str(conn.search_s(request.args['base'].isalnum() and BASE, ldap.SCOPE_SUBTREE, "
                    "'(objectClass=person)'))\n",)),
    SinkSpec("CW211", 90, "high", "an LDAP filter", "Untrusted data is part of an LDAP search filter (LDAP "
             "injection): escape it with ldap3.utils.conv.escape_filter_chars()",
             methods=("search",), arg=1, keyword="search_filter",
             INVALID=(FLASK + "@app.route('/who')\ndef who():\n    user = request.args['u']\n"
                      "    conn.search('dc=example,dc=com', f'(&(objectClass=person)(uid={user}))')\n"
                      "    return str(conn.entries)\n",),
             VALID=(FLASK + "@app.route('/who')\ndef who():\n    user = escape_filter_chars(request.args['u'])\n"
                    "    conn.search('dc=example,dc=com', f'(&(objectClass=person)(uid={user}))')\n"
                    "    return str(conn.entries)\n",
                    FLASK + "@app.route('/s')\ndef s():\n    m = PATTERN.search(request.args['q'])\n"
                    "    return str(bool(m))\n")),
    SinkSpec("CW212", 643, "high", "an XPath expression", "Untrusted data is part of an XPath expression (XPath "
             "injection): pass it as an XPath variable, tree.xpath('//u[@name=$n]', n=value)",
             calls=("lxml.etree.XPath", "etree.XPath", "lxml.etree.ETXPath", "etree.ETXPath"), methods=("xpath",),
             keyword="_path",
             INVALID=(FLASK + "@app.route('/u')\ndef u():\n"
                      "    return str(tree.xpath(\"//user[@name='\" + request.args['n'] + \"']\"))\n",),
             VALID=(FLASK + "@app.route('/u')\ndef u():\n"
                    "    return str(tree.xpath('//user[@name=$n]', n=request.args['n']))\n",)),
    SinkSpec("CW213", 113, "low", "a response header", "Untrusted data is written into a response header "
             "(header injection): Werkzeug and Django reject line breaks in header values, other servers may "
             "not; strip \\r and \\n, or allow-list the value",
             methods=("set_header", "add_header"), arg=1,
             INVALID=(("class H(tornado.web.RequestHandler):\n    def get(self):\n"
                       "        self.set_header('X-User', self.get_argument('u'))\n"),
                      FLASK + "@app.route('/h')\ndef h():\n    resp = make_response('ok')\n"
                      "    resp.headers['X-Name'] = request.args['n']\n    return resp\n"),
             VALID=(FLASK + "@app.route('/h')\ndef h():\n    resp = make_response('ok')\n"
                    "    resp.headers['X-Count'] = str(int(request.args['n']))\n    return resp\n",)),
    SinkSpec("CW213", 113, "low", "a response header", "Untrusted data is written into a response header "
             "(header injection): strip \\r and \\n, or allow-list the value",
             methods=("add", "set", "setdefault"), arg=1, when="headers",
             INVALID=(FLASK + "@app.route('/h')\ndef h():\n    resp = make_response('ok')\n"
                      "    resp.headers.add('Link', request.args['l'])\n    return resp\n",),
             VALID=(FLASK + "@app.route('/h')\ndef h():\n    seen = set()\n    seen.add(request.args['l'])\n"
                    "    return 'ok'\n",
                    ("def parse(sock):\n    headers = {}\n    for line in sock.recv(4096).split(b'\\r\\n'):\n"
                     "        k, v = line.split(b':', 1)\n        headers[k] = v\n    return headers\n"))),
    SinkSpec("CW214", 434, "medium", "a saved upload", "A file is saved under a name the client chose "
             "(unrestricted upload, path traversal): save it as secure_filename(f.filename), check the "
             "extension against an allow-list, and keep uploads outside the served folders",
             methods=("save",), keyword="dst",
             INVALID=(FLASK + "@app.route('/up', methods=['POST'])\ndef up():\n    f = request.files['file']\n"
                      "    f.save(os.path.join(UPLOADS, f.filename))\n    return 'saved'\n",),
             VALID=(FLASK + "@app.route('/up', methods=['POST'])\ndef up():\n    f = request.files['file']\n"
                    "    f.save(os.path.join(UPLOADS, uuid.uuid4().hex))\n    return 'saved'\n",)),
    SinkSpec("CW215", ERROR_CWE, "low", "the response (error text)", "Exception text or a traceback is sent "
             "to the client (information exposure): log it, and answer with a generic message",
             at="return",
             INVALID=(FLASK + "@app.route('/q')\ndef q():\n    try:\n        return query()\n"
                      "    except Exception as exc:\n        return make_response(f'failed: {exc}', 500)\n",),
             VALID=(FLASK + "@app.route('/q')\ndef q():\n    try:\n        return query()\n"
                    "    except Exception as exc:\n        log.exception('query failed: %s', exc)\n"
                    "        return make_response('failed', 500)\n",)),
    SinkSpec("CW215", ERROR_CWE, "low", "the response (error text)", "Exception text or a traceback is sent "
             "to the client (information exposure): log it, and answer with a generic message",
             calls=("fastapi.HTTPException", "HTTPException", "starlette.exceptions.HTTPException", "flask.abort",
                    "abort", "werkzeug.exceptions.abort"), arg=None,
             INVALID=(("@app.get('/r')\nasync def r():\n    try:\n        return await load()\n"
                       "    except Exception as exc:\n        raise HTTPException(502, detail=f'failed: {exc!r}')\n"),),
             VALID=(("@app.get('/r')\nasync def r():\n    try:\n        return await load()\n"
                     "    except Exception:\n        raise HTTPException(502, detail='upstream failed')\n"),)),
)


def rule_ids() -> dict[str, SinkSpec]:
    """The first sink of each CW2xx rule (the rule's CWE, severity and message), by id."""
    out: dict[str, SinkSpec] = {}
    for sink in SINKS:
        out.setdefault(sink.rule, sink)
    return out


def taint_table() -> str:
    """docs/safety.md's list of every source, sanitiser and sink (generated, so it cannot drift from the data)."""
    rows = ["| kind | entry | matches | CWE / covers |", "|---|---|---|---|"]
    for src in SOURCES:
        rows.append(f"| source ({src.kind}, {src.confidence} confidence) | {src.id} ({src.framework}) | "
                    f"{src.how}: {', '.join(src.names)} | |")
    for san in SANITISERS:
        covers = ", ".join(f"CWE-{c}" for c in sorted(san.clears)) or "every sink"
        how = "an `if` test that leaves when it fails: " if san.how == "guard" else ""
        rows.append(f"| sanitiser | {san.id} | {how}{', '.join(san.names)} | {covers} |")
    rows.append("| sanitiser | allow-list | an `if x in ALLOWED` test (or `not in` that leaves) | every sink |")
    for sink in SINKS:
        names = ", ".join(sink.calls + tuple(f".{m}()" for m in sink.methods)) or \
            "a value a route handler returns"
        cond = {"shell": " (with shell=True)", "argv0": " (the program itself)",
                "unsafe_yaml": " (yaml without a safe Loader)", "headers": " (of `*.headers`)"}.get(sink.when or "", "")
        rows.append(f"| sink {sink.rule} | {sink.what}{cond} | {names} | CWE-{sink.cwe}, {sink.severity} |")
    rows.append("| sink CW205 | an HTML response | a string built from request data returned by a route handler | "
                "CWE-79, medium |")
    rows.append("| sink CW213 | a response header | an item stored into `resp.headers[...]` | CWE-113, low |")
    return "\n".join(rows)
