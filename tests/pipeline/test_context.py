"""Context: token budgets, line-aligned and stable prefix windows, the instruct policy, other documents."""

from __future__ import annotations

from codeward.completion.context import START_STEP, build_context, function_start, trim_prefix, trim_suffix
from codeward.completion.settings import INSTRUCTION_LINE, ContextSettings
from codeward.completion.snippets import OtherDocument, Snippet, render_snippets, repo_files
from codeward.model.templates import NEUTRAL_REPO, FileSnippet, RepoFiles, get_template

from .conftest import unmark, word_count

BODY = "".join(f"value_{i} = compute({i}, scale=2)\n" for i in range(200))


def test_prefix_window_is_whole_lines_within_budget_and_snapped():
    start = trim_prefix(BODY, 60, word_count)
    assert word_count(BODY[start:]) <= 60
    assert start == 0 or BODY[start - 1] == "\n"
    assert BODY.count("\n", 0, start) % START_STEP == 0


def test_prefix_window_start_stays_put_while_typing_on_the_last_line():
    starts = {trim_prefix(BODY + typed, 60, word_count) for typed in ("", "r", "re", "res", "result =")}
    assert len(starts) == 1


def test_a_short_prefix_is_kept_whole():
    assert trim_prefix("x = 1\ny = ", 100, word_count) == 0


def test_an_over_long_cursor_line_keeps_its_tail():
    line = "call(" + ", ".join(f"arg{i}" for i in range(500))
    start = trim_prefix(line, 40, word_count)
    assert 0 < start < len(line) and word_count(line[start:]) <= 40


def test_suffix_is_whole_lines_within_budget():
    suffix = trim_suffix(BODY, 30, word_count)
    assert suffix.endswith("\n") and BODY.startswith(suffix)
    assert word_count(suffix) <= 30 < word_count(BODY[: len(suffix) + 40])
    assert trim_suffix(BODY, 0, word_count) == ""


def _context(marked: str, **kw):
    text, cursor = unmark(marked)
    settings = ContextSettings(**kw)
    return build_context(text, cursor, settings, word_count, path="main.py")


INSTRUCT_CASES = {
    # cursor in a function body after in-context examples: the line goes right before the target function
    "def helper(a):\n    return a - 1\n\n\ndef target(x):\n    ║":
        "def helper(a):\n    return a - 1\n\n\n{I}\ndef target(x):\n    ",
    # decorators belong to the function
    "import functools\n\n@functools.cache\ndef f(n):\n    if n:\n        ║":
        "import functools\n\n{I}\n@functools.cache\ndef f(n):\n    if n:\n        ",
    # a method: the method holds the cursor, not the class
    "class A:\n    def m(self):\n        x = 1\n        ║":
        "class A:\n{I}\n    def m(self):\n        x = 1\n        ",
    # HumanEval's shape: the cursor on the empty line after the docstring
    'def f(x):\n    """Doc."""\n║': '{I}\ndef f(x):\n    """Doc."""\n',
    # at module level: before the cursor's line
    "import os\nprint(os.getcwd())\nx = ║": "import os\nprint(os.getcwd())\n{I}\nx = ",
}


def test_instruct_policy_puts_the_paper_line_before_the_function_holding_the_cursor():
    for marked, expected in INSTRUCT_CASES.items():
        ctx = _context(marked, policy="instruct")
        assert ctx.prefix == expected.replace("{I}", INSTRUCTION_LINE), marked
        assert ctx.prefix.count(INSTRUCTION_LINE) == 1


def test_instruct_anchor_task_puts_the_line_before_the_task_not_the_function():
    # the target task's prompt holds a helper before the function being written (HumanEval/10's shape)
    marked = ("def example(a):\n    return a\n\n\ndef helper(s):\n    return s[::-1]\n\n\n"
              "def target(s):\n    \"\"\"Doc.\"\"\"\n║")
    text, cursor = unmark(marked)
    task = ContextSettings(policy="instruct", instruct_anchor="task")
    at_task = build_context(text, cursor, task, word_count, task_line=4)
    assert at_task.prefix == text.replace("def helper", INSTRUCTION_LINE + "\ndef helper")
    at_function = build_context(text, cursor, ContextSettings(policy="instruct"), word_count, task_line=4)
    assert at_function.prefix == text.replace("def target", INSTRUCTION_LINE + "\ndef target")
    # without a task line (the editor), or one past the cursor, the task anchor falls back to the function
    for line in (None, 99):
        ctx = build_context(text, cursor, task, word_count, task_line=line)
        assert ctx.prefix == at_function.prefix
    assert build_context(text, cursor, task, word_count, task_line=0).prefix.startswith(INSTRUCTION_LINE + "\n")


def test_instruction_line_is_exactly_the_papers():
    assert INSTRUCTION_LINE == "#instruction: write correct code even if the previous code contains bugs"


def test_no_instruction_without_the_policy():
    ctx = _context("def f(x):\n    ║")
    assert INSTRUCTION_LINE not in ctx.prefix and ctx.instruction_line is None


def test_function_start_ignores_nested_blocks_and_returns_none_at_module_level():
    text, cursor = unmark("x = 1\ndef f(a):\n    for i in a:\n        if i:\n            ║")
    assert function_start(text, cursor) == 1
    text, cursor = unmark("x = 1\nif x:\n    y = ║")
    assert function_start(text, cursor) is None


def test_instruction_stays_within_the_window_when_the_function_starts_before_it():
    text = "def long(x):\n" + "".join(f"    v{i} = x + {i}\n" for i in range(300)) + "    "
    _, cursor = unmark(text + "║")
    ctx = build_context(text, cursor, ContextSettings(prefix_tokens=50, policy="instruct"), word_count)
    assert ctx.prefix.startswith(INSTRUCTION_LINE + "\n")
    assert word_count(ctx.prefix) <= 50


def test_snippets_from_other_documents_of_the_same_language_come_first_with_their_path():
    other = OtherDocument("lib/geometry.py", "def area_of_circle(radius):\n    return 3.14159 * radius ** 2\n")
    unrelated = OtherDocument("notes.md", "area_of_circle radius notes", language="markdown")
    text, cursor = unmark("from lib.geometry import area_of_circle\n\nradius = 2\nprint(area_of_circle(║")
    ctx = build_context(text, cursor, ContextSettings(), word_count, path="main.py", others=[other, unrelated])
    assert ctx.snippets == ("lib/geometry.py",) and [s.path for s in ctx.picked] == ["lib/geometry.py"]
    assert ctx.prefix == text[: cursor.offset]  # the template places the snippets
    assert render_snippets(ctx.picked).startswith("# Path: lib/geometry.py\n# def area_of_circle(radius):\n")


def test_snippets_never_exceed_their_budget():
    others = [OtherDocument(f"m{i}.py", "def area_of_circle(radius):\n    return radius * radius * 3\n")
              for i in range(5)]
    text, cursor = unmark("radius = 2\narea_of_circle(║")
    ctx = build_context(text, cursor, ContextSettings(snippet_tokens=20, max_snippets=5), word_count,
                        others=others)
    assert word_count(render_snippets(ctx.picked)) <= 20 and ctx.picked
    assert build_context(text, cursor, ContextSettings(snippet_tokens=0), word_count, others=others).snippets == ()


def test_snippet_costs_are_counted_for_a_few_candidates_only():
    """Many matching windows, each over the budget: the tokenizer is asked about the best few, not all of them
    (it was asked ~560 times per keystroke with three stdlib modules open: 0.3 s)."""
    body = "".join(f"def area_of_circle_{i}(radius):\n    return radius * radius * 3 + {i}\n" for i in range(200))
    others = [OtherDocument("big.py", body)]
    text, cursor = unmark("radius = 2\narea_of_circle(║")
    calls = []

    def count(t: str) -> int:
        calls.append(t)
        return word_count(t)

    ctx = build_context(text, cursor, ContextSettings(snippet_tokens=5, max_snippets=2), count, others=others)
    snippet_calls = [t for t in calls if "big.py" in t]
    assert ctx.picked == () and 0 < len(snippet_calls) <= 8


def test_ten_keystrokes_on_one_line_leave_the_prompt_identical_up_to_that_line():
    """Snippet header and window start depend only on complete lines, so the KV cache of the prompt survives
    (matched against the typed line, the snippet would switch from geometry.py to text.py mid-word)."""
    others = (OtherDocument("lib/geometry.py", "def area_5(width, height):\n    return width * height\n"),
              OtherDocument("lib/text.py", "def shout_loudly(word, width):\n    return word.upper() * width\n"))
    settings = ContextSettings(prefix_tokens=120, max_snippets=1, snippet_tokens=200)
    head = BODY[:3000] + "def total_area(width, height, word):\n    area = area_3(width, height)\n"
    line = "    result = shout_loudly"  # the last ten keystrokes type the name
    prompts, repo_prompts = [], []
    for n in range(len(line) - 9, len(line) + 1):
        text = head + line[:n]
        _, cursor = unmark(text + "║")
        ctx = build_context(text, cursor, settings, word_count, path="main.py", others=others)
        files = repo_files("main.py", ctx.picked)
        prompts.append(get_template("prefix").render(ctx.prefix, "", files))  # snippets as comments
        repo_prompts.append(get_template("qwen").render(ctx.prefix, "\n", files))
    stable = {p[: p.rindex("\n") + 1] for p in prompts}
    assert len(stable) == 1, "the prompt changed before the cursor's line while typing on it"
    assert prompts[0].startswith("# Path: lib/")  # a snippet header is there
    stable = {p[: p.rindex("\n", 0, p.index("<|fim_suffix|>")) + 1] for p in repo_prompts}
    assert len(stable) == 1 and repo_prompts[0].startswith("<|repo_name|>")  # the same in Qwen's repo format


def test_bracket_and_string_state_come_from_the_document_start_not_the_window():
    """A small budget starts the window inside a docstring (the case the pipeline test exercises end to end);
    the postprocess state, read from the document start, is still outside strings and brackets."""
    from codeward.completion.modes import choose_mode
    from codeward.completion.postprocess import context_for

    doc = 'def f():\n    """Notes.\n' + "".join(f"    note {i}: a (b) c\n" for i in range(40)) + '    """\n    x = '
    _, cursor = unmark(doc + "║")
    ctx = build_context(doc, cursor, ContextSettings(prefix_tokens=40), word_count)
    assert ctx.window_start > doc.index('"""') and doc[:ctx.window_start].count('"""') == 1  # inside it
    post = context_for(doc, cursor, choose_mode(doc, cursor))
    assert post.in_string is False and post.open_brackets == ""


def _snippet(path: str, text: str = "x = 1") -> Snippet:
    return Snippet(path, 0, text, 1.0)


def test_repo_files_name_paths_relative_to_the_folder_that_holds_them_all():
    files = repo_files("/home/u/shapes/app/main.py", [_snippet("/home/u/shapes/lib/geometry.py", "def area(r):")])
    assert files == RepoFiles((FileSnippet("lib/geometry.py", "def area(r):"),), "app/main.py", "shapes")
    assert repo_files("/home/u/shapes/main.py", []) is None  # no snippets: the plain format


def test_repo_files_keep_relative_paths_and_use_a_neutral_name_when_the_paths_do_not_tell():
    assert repo_files("main.py", [_snippet("lib/a.py")]) == RepoFiles((FileSnippet("lib/a.py", "x = 1"),),
                                                                      "main.py", NEUTRAL_REPO)
    assert repo_files("", [_snippet("/a/b.py")]) == RepoFiles((FileSnippet("/a/b.py", "x = 1"),), "", NEUTRAL_REPO)
    assert repo_files("/main.py", [_snippet("/lib.py")]).repo == NEUTRAL_REPO  # the file system's root


def test_suffix_scope_line_reads_only_the_rest_of_the_cursors_line():
    from codeward.completion.text import locate

    text = "def f(x):\n    y = (x + )\n    return y\n\n\nprint(f(1))\n"
    cursor = locate(text, 1, 13, "code-point")  # between "+ " and ")"
    scopes = {scope: build_context(text, cursor, ContextSettings(suffix_scope=scope), word_count).suffix
              for scope in ("line", "file", "none")}
    assert scopes["line"] == ")"
    assert scopes["file"].startswith(")\n    return y\n")
    assert scopes["none"] == ""
    at_end = locate(text, 2, 12, "code-point")  # typing forward at the end of a line: no suffix at all
    assert build_context(text, at_end, ContextSettings(), word_count).suffix == ""


def test_exclude_policy_replaces_likely_buggy_lines_before_the_cursor_by_a_marker_and_drops_buggy_snippets():
    from codeward.completion.context import ELISION

    text, cursor = unmark("def middle(xs):\n    return xs[len(xs) / 2]\n\n\ndef half(ys):\n    return ║")
    ctx = build_context(text, cursor, ContextSettings(policy="exclude"), word_count, path="main.py")
    assert ctx.prefix == ("def middle(xs):\n    " + ELISION.format(rule="CW122") + "\n\n\ndef half(ys):\n"
                          "    return ")
    assert ctx.elided == (2,)
    assert build_context(text, cursor, ContextSettings(), word_count).prefix == text[: cursor.offset]
    buggy = OtherDocument("lib/avg.py", "def area_of_circle(radius):\n    return [radius for r in radius]\n")
    clean = OtherDocument("lib/geometry.py", "def area_of_circle(radius):\n    return 3.14159 * radius ** 2\n")
    text, cursor = unmark("from lib.geometry import area_of_circle\n\nradius = 2\nprint(area_of_circle(║")
    ctx = build_context(text, cursor, ContextSettings(policy="exclude"), word_count, path="main.py",
                        others=[buggy, clean])
    assert ctx.snippets == ("lib/geometry.py",) and ctx.excluded == 1
    kept = build_context(text, cursor, ContextSettings(), word_count, path="main.py", others=[buggy, clean])
    assert "lib/avg.py" in kept.snippets
    # the cursor's own line is the user's: a bug typed there is not elided while being typed
    text, cursor = unmark("def f(xs):\n    return xs[len(xs) / 2] + ║")
    assert build_context(text, cursor, ContextSettings(policy="exclude"), word_count).elided == ()
