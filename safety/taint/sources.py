"""The taint engine's sources and sanitisers, as data (the sinks are in `specs`, which re-exports these).

Every entry carries its examples (INVALID: a flow that must be reported; VALID: a safe form, never reported); the
test suite runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass

WEB, SOCKET, CLI, ERROR = "web", "socket", "cli", "error"

@dataclass(frozen=True)
class SourceSpec:
    """Where untrusted data enters. `how`: `request_attr` (an attribute of a `request` object, any framework),
    `call` (a call of the qualified `names`), `method` (a method of that name on any object), `attr` (a qualified
    attribute such as `sys.argv`), `handler` (the parameters of a route handler or view)."""

    id: str
    how: str
    names: tuple[str, ...]
    kind: str  # web | socket | cli
    framework: str
    INVALID: tuple[str, ...] = ()
    VALID: tuple[str, ...] = ()

    @property
    def confidence(self) -> str:
        return "low" if self.kind == CLI else "high"


ERROR_CWE = 209  # the only sink error text (a caught exception, a traceback) is reported at


@dataclass(frozen=True)
class SanitiserSpec:
    """A call whose result is safe for the sinks of `clears` (CWE numbers; empty: every sink)."""

    id: str
    names: tuple[str, ...]
    clears: frozenset[int] = frozenset()
    VALID: tuple[str, ...] = ()
    how: str = "call"  # call: the call's result is clean; guard: an `if` test that leaves when it fails


FLASK = "from flask import Flask, request, redirect, make_response, send_file\napp = Flask(__name__)\n"

REQUEST_ATTRS = ("args", "form", "values", "json", "data", "cookies", "headers", "files", "GET", "POST",
                 "COOKIES", "META", "FILES", "body", "query_params", "path_params", "stream", "environ")

SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("request", "request_attr", REQUEST_ATTRS, WEB, "flask, werkzeug, django, starlette",
               INVALID=(FLASK + "@app.route('/run')\ndef run():\n    cmd = request.args.get('cmd')\n"
                        "    os.system(cmd)\n",
                        ("def view(request):\n    name = request.GET['name']\n"
                        "    cursor.execute(\"SELECT * FROM t WHERE n = '%s'\" % name)\n"),
                        "def upload(request):\n    data = request.body\n    return pickle.loads(data)\n"),
               VALID=(FLASK + "@app.route('/run')\ndef run():\n    n = int(request.args.get('n'))\n"
                      "    os.system('echo %d' % n)\n",)),
    SourceSpec("request.get_json", "method", ("get_json", "get_data"), WEB, "flask",
               INVALID=(FLASK + "@app.route('/e', methods=['POST'])\ndef e():\n"
                        "    expr = request.get_json()['expr']\n    return str(eval(expr))\n",),
               VALID=(FLASK + "@app.route('/e', methods=['POST'])\ndef e():\n"
                      "    expr = request.get_json()['expr']\n    return str(ast.literal_eval(expr))\n",)),
    SourceSpec("route-parameters", "handler", ("route", "get", "post", "put", "patch", "delete", "websocket"), WEB,
               "flask, fastapi, starlette, django views",
               INVALID=(FLASK + "@app.route('/files/<path:name>')\ndef files(name):\n"
                        "    return open('/srv/files/' + name).read()\n",
                        ("@router.get('/ping/{host}')\nasync def ping(host: str):\n"
                        "    return subprocess.check_output('ping -c 1 ' + host, shell=True)\n")),
               VALID=(FLASK + "@app.route('/files/<path:name>')\ndef files(name):\n"
                      "    return open('/srv/files/' + secure_filename(name)).read()\n",
                      "def helper(name):\n    return open('/srv/files/' + name).read()\n")),
    SourceSpec("tornado-arguments", "method", ("get_argument", "get_arguments", "get_query_argument",
                                               "get_body_argument", "get_cookie", "get_secure_cookie"), WEB,
               "tornado",
               INVALID=(("class H(tornado.web.RequestHandler):\n    def get(self):\n"
                        "        self.write(eval(self.get_argument('e')))\n"),),
               VALID=(("class H(tornado.web.RequestHandler):\n    def get(self):\n"
                      "        self.write(str(int(self.get_argument('n')) + 1))\n"),)),
    SourceSpec("socket.recv", "method", ("recv", "recvfrom", "recv_into", "recvmsg"), SOCKET, "socket",
               INVALID=(("def serve(conn):\n    cmd = conn.recv(1024).decode()\n"
                        "    subprocess.run(cmd, shell=True)\n"),),
               VALID=(("def serve(conn):\n    cmd = conn.recv(1024).decode()\n"
                      "    subprocess.run(['echo', cmd])\n"),)),
    SourceSpec("input", "call", ("input",), CLI, "builtins",
               INVALID=("expr = input('> ')\nprint(eval(expr))\n",),
               VALID=("path = input('file: ')\nprint(open(path).read())\n",)),
    SourceSpec("sys.argv", "attr", ("sys.argv",), CLI, "sys",
               INVALID=("import sys\nos.system('grep ' + sys.argv[1] + ' log.txt')\n",),
               VALID=("import sys\nwith open(sys.argv[1]) as f:\n    print(f.read())\n",)),
    SourceSpec("os.environ", "attr", ("os.environ",), CLI, "os",
               INVALID=("import os\nos.system('ls ' + os.environ['DIR'])\n",),
               VALID=("import os\nprint(open(os.environ['CONFIG']).read())\n",)),
    SourceSpec("os.getenv", "call", ("os.getenv", "os.environ.get"), CLI, "os",
               INVALID=("import os\nsubprocess.call('tar xf ' + os.getenv('ARCHIVE'), shell=True)\n",),
               VALID=("import os\nsubprocess.call(['tar', 'xf', os.getenv('ARCHIVE')])\n",)),
    SourceSpec("exception-text", "call", ("traceback.format_exc", "traceback.format_exception",
                                          "traceback.format_tb", "traceback.format_stack", "sys.exc_info"), ERROR,
               "traceback, sys; and the name an `except ... as e:` binds in a handler",
               INVALID=(FLASK + "@app.route('/r')\ndef r():\n    try:\n        return run_job()\n"
                        "    except Exception:\n        return traceback.format_exc(), 500\n",
                        FLASK + "@app.route('/r')\ndef r():\n    try:\n        return run_job()\n"
                        "    except Exception as e:\n        return jsonify(error=str(e)), 500\n"),
               VALID=(FLASK + "@app.route('/r')\ndef r():\n    try:\n        return run_job()\n"
                      "    except Exception:\n        log.error(traceback.format_exc())\n"
                      "        return jsonify(error='internal error'), 500\n",
                      ("def job():\n    try:\n        return run_job()\n    except Exception as e:\n"
                       "        return str(e)\n"))),
    SourceSpec("error-handler", "error_handler", ("errorhandler", "app_errorhandler", "exception_handler"), ERROR,
               "flask, fastapi, starlette: the parameters of an error handler",
               INVALID=(FLASK + "@app.errorhandler(Exception)\ndef oops(err):\n    return f'<pre>{err}</pre>', 500\n",),
               VALID=(FLASK + "@app.errorhandler(Exception)\ndef oops(err):\n    log.exception(err)\n"
                      "    return 'internal error', 500\n",)),
    SourceSpec("argparse", "method", ("parse_args", "parse_known_args"), CLI, "argparse",
               INVALID=("args = parser.parse_args()\nos.system('convert ' + args.image)\n",),
               VALID=("args = parser.parse_args()\nsubprocess.run(['convert', args.image])\n",)),
)

SANITISERS: tuple[SanitiserSpec, ...] = (
    SanitiserSpec("numbers", ("int", "float", "bool", "len", "abs", "round", "uuid.UUID", "ord", "hash", "id",
                              "isinstance", "callable"),
                  VALID=(FLASK + "@app.route('/p')\ndef p():\n    page = int(request.args['page'])\n"
                         "    cur.execute('SELECT * FROM t LIMIT 10 OFFSET %d' % page)\n",)),
    SanitiserSpec("secure_filename", ("werkzeug.utils.secure_filename", "secure_filename",
                                      "os.path.basename", "posixpath.basename"), frozenset({22, 434}),
                  VALID=(FLASK + "@app.route('/up', methods=['POST'])\ndef up():\n    f = request.files['f']\n"
                         "    f.save(os.path.join('/srv/up', secure_filename(f.filename)))\n",)),
    SanitiserSpec("shlex.quote", ("shlex.quote", "pipes.quote"), frozenset({78}),
                  VALID=(FLASK + "@app.route('/g')\ndef g():\n"
                         "    os.system('grep ' + shlex.quote(request.args['q']) + ' log.txt')\n",)),
    SanitiserSpec("html.escape", ("html.escape", "markupsafe.escape", "flask.escape", "cgi.escape",
                                  "django.utils.html.escape", "bleach.clean"), frozenset({79}),
                  VALID=(FLASK + "@app.route('/hi')\ndef hi():\n"
                         "    return '<p>Hello ' + html.escape(request.args['name']) + '</p>'\n",)),
    SanitiserSpec("re.escape", ("re.escape",), frozenset({730}),
                  VALID=(FLASK + "@app.route('/s')\ndef s():\n"
                         "    return str(re.search(re.escape(request.args['q']), TEXT))\n",)),
    SanitiserSpec("url_for", ("flask.url_for", "url_for", "urllib.parse.quote", "quote"), frozenset({601, 918}),
                  VALID=(FLASK + "@app.route('/go')\ndef go():\n"
                         "    return redirect(url_for('page', name=request.args['next']))\n",)),
    SanitiserSpec("ldap-escape", ("ldap.filter.escape_filter_chars", "escape_filter_chars",
                                  "ldap3.utils.conv.escape_filter_chars", "ldap.dn.escape_dn_chars", "escape_dn_chars",
                                  "ldap3.utils.dn.escape_rdn", "escape_rdn", "ldap.filter.filter_format",
                                  "filter_format"), frozenset({90}),
                  VALID=(FLASK + "@app.route('/who')\ndef who():\n    u = escape_filter_chars(request.args['u'])\n"
                         "    return str(conn.search_s(BASE, ldap.SCOPE_SUBTREE, '(uid=%s)' % u))\n",)),
    SanitiserSpec("containment-check", ("realpath + startswith", "os.path.commonpath", "Path.is_relative_to"),
                  frozenset({22, 434}),
                  VALID=(FLASK + "@app.route('/f')\ndef f():\n"
                         "    real = os.path.realpath(os.path.join(BASE, request.args['f']))\n"
                         "    if not real.startswith(BASE + os.sep):\n        abort(404)\n"
                         "    return send_file(real)\n",
                         FLASK + "@app.route('/f')\ndef f():\n"
                         "    real = os.path.realpath(os.path.join(BASE, request.args['f']))\n"
                         "    if os.path.commonpath([BASE, real]) != BASE:\n        abort(404)\n"
                         "    return send_file(real)\n",
                         FLASK + "@app.route('/f')\ndef f():\n"
                         "    p = (Path(BASE) / request.args['f']).resolve()\n"
                         "    if p.is_relative_to(BASE):\n        return send_file(p)\n    abort(404)\n"),
                  how="guard"),
    SanitiserSpec("safe-url", ("url_has_allowed_host_and_scheme", "django.utils.http.url_has_allowed_host_and_scheme",
                               "is_safe_url", "django.utils.http.is_safe_url"), frozenset({601, 918}),
                  VALID=(("def login(request):\n    nxt = request.GET.get('next', '/')\n"
                          "    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):\n"
                          "        nxt = '/'\n    return HttpResponseRedirect(nxt)\n"),),
                  how="guard"),
    SanitiserSpec("json", ("json.dumps", "flask.jsonify", "jsonify"), frozenset({79}),
                  VALID=(FLASK + "@app.route('/j')\ndef j():\n    return jsonify(q=request.args['q'])\n",)),
)
