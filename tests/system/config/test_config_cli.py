"""`berth config validate`, `berth help`, `berth --version`, driven as a user would."""
import hashlib
import json
import re

VALID = ["tests/config/cpu-app.yml", "tests/config/gpu-inference.yml",
         "tests/config/compose-forms.yml"]


def canonical(obj):
    """The canonical form as docs/config.md describes it, computed independently."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def test_valid_files_print_ok_and_hash(berth):
    r = berth("config", "validate", *VALID)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    for line, path in zip(lines, VALID):
        assert re.fullmatch(re.escape(path) + r": ok sha256:[0-9a-f]{64}", line)
    # Stable across runs.
    assert berth("config", "validate", *VALID).stdout == r.stdout


def test_json_hashes_to_the_printed_sha(berth):
    for path in VALID:
        ok = berth("config", "validate", path)
        sha = ok.stdout.strip().rsplit("sha256:", 1)[1]
        r = berth("config", "validate", "--json", path)
        assert r.returncode == 0, r.stderr
        obj = json.loads(r.stdout)
        assert hashlib.sha256(canonical(obj)).hexdigest() == sha, path
        assert obj["deploy"]["health-timeout"] == 300000 or path.endswith("forms.yml")


def test_gpu_file_normalised(berth):
    r = berth("config", "validate", "--json", "tests/config/gpu-inference.yml")
    obj = json.loads(r.stdout)
    ct = obj["containers"][0]
    assert ct["gpus"] == "all" and ct["runtime"] == "nvidia" and obj["gpus"] == 1
    assert ct["healthcheck"]["start_period"] == 30 * 60 * 1000
    assert ct["healthcheck"]["test"][0] == "CMD"
    assert [t["path"] for t in ct["tmpfs"]] == ["/root/.cache", "/tmp"]
    assert {"key": "VLLM_API_KEY", "value": None} in ct["env"]
    assert obj["shim"]["authenticated"] is True
    assert obj["deploy"]["health-path"] == "/health"
    assert obj["models"][0]["name"] == "llama3-8b"


def test_invalid_files_report_every_error(berth, repo):
    files = sorted((repo / "tests/config/invalid").glob("*.yml"))
    assert len(files) >= 15
    for f in files:
        rel = f.relative_to(repo)
        r = berth("config", "validate", rel)
        assert r.returncode == 1, rel
        assert r.stdout == ""
        assert r.stderr == f.with_suffix(".err").read_text(), rel
        # Every error names its place: file:line:col, then the message.
        for line in r.stderr.splitlines():
            assert re.match(re.escape(str(rel)) + r":\d+:\d+: \S", line), line


def test_unclosed_construct_named_where_it_opened(berth, tmp_path):
    """Issue 11, defect 6: the error names the line and column where the
    construct opened, first, and where the file ends, not only the end."""
    cases = {
        "  - image: [unclosed\n": ("4:12", "flow sequence \"[\"", "6:16"),
        "  - image: {unclosed: 1,\n": ("4:12", "flow mapping \"{\"", "6:16"),
        "  - image: \"unclosed\n": ("4:12", "double-quoted string", "6:16"),
        "  - image: 'unclosed\n": ("4:12", "single-quoted string", "6:16"),
    }
    for line4, (opened, what, end) in cases.items():
        d = tmp_path / what.split()[0]
        d.mkdir(exist_ok=True)
        f = d / "tinfoil-config.yml"
        f.write_text("shim:\n  upstream-port: 80\ncontainers:\n" + line4 +
                     "    name: web\n    x: 01234567\n")
        r = berth("config", "validate", f)
        assert r.returncode == 1
        assert r.stderr == (f"{f}:{opened}: invalid YAML: unclosed {what} opened here "
                            f"(the file ends at {end})\n"), r.stderr


def test_mixed_files_exit_nonzero(berth):
    r = berth("config", "validate", "tests/config/cpu-app.yml",
              "tests/config/invalid/types.yml", "/nonexistent/x.yml")
    assert r.returncode == 1
    assert r.stdout.startswith("tests/config/cpu-app.yml: ok sha256:")
    assert "tests/config/invalid/types.yml:1:7: cpus: expected an integer" in r.stderr
    assert "/nonexistent/x.yml: open /nonexistent/x.yml: No such file or directory" in r.stderr


def test_edit_changes_hash(berth, tmp_path, repo):
    text = (repo / "tests/config/cpu-app.yml").read_text()
    a = tmp_path / "a.yml"
    b = tmp_path / "b.yml"
    a.write_text(text)
    b.write_text(text.replace('"info"', '"debug"'))
    ra = berth("config", "validate", a).stdout.split("sha256:")[1]
    rb = berth("config", "validate", b).stdout.split("sha256:")[1]
    assert ra != rb
    # Comments and reordering do not.
    c = tmp_path / "c.yml"
    c.write_text("# a comment\n" + text.replace("cpus: 2\nmemory: 8192\n", "memory: 8192\ncpus: 2\n"))
    assert berth("config", "validate", c).stdout.split("sha256:")[1] == ra


def test_usage_errors(berth):
    r = berth("config", "validate")
    assert r.returncode == 2 and "no file given" in r.stderr
    r = berth("config", "validate", "--yaml", "x.yml")
    assert r.returncode == 2 and "unknown option --yaml" in r.stderr
    r = berth("nope")
    assert r.returncode == 2 and 'no command group "nope"' in r.stderr
    r = berth("config", "frobnicate")
    assert r.returncode == 2 and 'no command "frobnicate"' in r.stderr
    r = berth()
    assert r.returncode == 2 and "usage: berth" in r.stderr and "GROUP COMMAND" in r.stderr


def test_help_and_version(berth):
    r = berth("--version")
    assert r.returncode == 0 and re.fullmatch(r"berth \d+\.\d+\.\d+\n", r.stdout)
    r = berth("help")
    assert r.returncode == 0 and "config" in r.stdout and "usage:" in r.stdout
    r = berth("help", "config")
    assert r.returncode == 0 and "berth config validate [--json] FILE..." in r.stdout
    r = berth("config", "validate", "--help")
    assert r.returncode == 0 and "usage: berth config validate" in r.stdout
