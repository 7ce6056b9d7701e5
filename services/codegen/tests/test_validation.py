from __future__ import annotations

import pytest

from snapinfra_codegen.generators.base import GeneratedProject, GenerationError
from snapinfra_codegen.generators.validation import ProjectLimits, validate_project

NAME = "shop"
LIMITS = ProjectLimits()


def project(**files: bytes) -> GeneratedProject:
    return GeneratedProject(files=dict(files))


def good_files() -> dict[str, bytes]:
    return {
        "shop/README.md": b"# shop\n",
        "shop/requirements.txt": b"flask>=3\npytest>=8\n",
        "shop/shop/__init__.py": b"",
        "shop/shop/app.py": b"from flask import Flask\n\n\ndef create_app():\n    return Flask(__name__)\n",
        "shop/tests/test_app.py": b"def test_ok():\n    assert True\n",
        "shop/package.json": b'{"name": "shop"}',
        "shop/template.yaml": b"Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties: !Ref X\n",
        "shop/Dockerfile": b"FROM python:3.11-slim\n",
        "shop/.dockerignore": b"__pycache__\n",
    }


def test_good_project_passes() -> None:
    validate_project(GeneratedProject(files=good_files()), NAME, LIMITS)


def test_limits_defaults() -> None:
    assert ProjectLimits(max_files=200, max_total_bytes=5_000_000, max_file_bytes=1_000_000) == LIMITS


def test_empty_project_is_refused() -> None:
    with pytest.raises(GenerationError, match="empty"):
        validate_project(GeneratedProject(), NAME, LIMITS)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("/shop/app.py", "absolute"),
        ("/etc/passwd", "absolute"),
        ("C:/shop/app.py", "absolute"),
        ("shop/../app.py", r"'\.\.'"),
        ("../shop/app.py", r"'\.\.'"),
        ("shop/a/../../b.py", r"'\.\.'"),
        ("shop\\app.py", "backslash"),
        ("shop/app\x00.py", "control"),
        ("shop/app\n.py", "control"),
        ("shop/app\x7f.py", "control"),
        ("shop//app.py", "empty or '.' segment"),
        ("shop/", "empty or '.' segment"),
        ("shop/./app.py", "empty or '.' segment"),
        ("shop", "not under 'shop/'"),
        ("other/app.py", "not under 'shop/'"),
        ("shopping/app.py", "not under 'shop/'"),
        ("Shop/app.py", "not under 'shop/'"),
        ("app.py", "not under 'shop/'"),
    ],
)
def test_bad_paths_are_refused(path: str, reason: str) -> None:
    files = good_files()
    files[path] = b"x = 1\n"
    with pytest.raises(GenerationError, match=reason) as caught:
        validate_project(GeneratedProject(files=files), NAME, LIMITS)
    message = str(caught.value)
    assert "not allowed" in message
    assert "\x00" not in message
    assert "\n" not in message


def test_non_text_path_is_refused() -> None:
    files: dict[str, bytes] = good_files()
    files[b"shop/x.py"] = b"x = 1\n"  # type: ignore[index]
    with pytest.raises(GenerationError, match="not text"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)


def test_non_bytes_content_is_refused() -> None:
    files = good_files()
    files["shop/x.txt"] = "text"  # type: ignore[assignment]
    with pytest.raises(GenerationError, match="no byte content"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)


def test_too_many_files() -> None:
    files = {f"shop/f{i}.txt": b"x" for i in range(11)}
    validate_project(GeneratedProject(files=dict(list(files.items())[:10])), NAME, ProjectLimits(max_files=10))
    with pytest.raises(GenerationError, match=r"11 files, more than the limit of 10"):
        validate_project(GeneratedProject(files=files), NAME, ProjectLimits(max_files=10))


def test_file_too_large() -> None:
    limits = ProjectLimits(max_file_bytes=100)
    validate_project(project(**{"shop/a.txt": b"x" * 100}), NAME, limits)
    with pytest.raises(GenerationError, match=r"'shop/big.txt' is 101 bytes, more than the limit of 100"):
        validate_project(GeneratedProject(files={"shop/big.txt": b"x" * 101}), NAME, limits)


def test_total_too_large() -> None:
    limits = ProjectLimits(max_total_bytes=250, max_file_bytes=100)
    files = {f"shop/f{i}.txt": b"x" * 100 for i in range(3)}
    with pytest.raises(GenerationError, match=r"300 bytes, more than the limit of 250"):
        validate_project(GeneratedProject(files=files), NAME, limits)


def test_unparsable_python_names_file_and_line() -> None:
    files = good_files()
    files["shop/shop/models.py"] = b"import os\n\n\ndef broken(:\n    pass\n"
    with pytest.raises(GenerationError) as caught:
        validate_project(GeneratedProject(files=files), NAME, LIMITS)
    message = str(caught.value)
    assert "'shop/shop/models.py'" in message
    assert "not valid Python" in message
    assert "line 4" in message


def test_bad_indentation_is_refused() -> None:
    files = {"shop/a.py": b"def f():\nreturn 1\n"}
    with pytest.raises(GenerationError, match=r"'shop/a.py' is not valid Python: .* at line 2"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)


def test_python_with_null_byte_is_refused() -> None:
    with pytest.raises(GenerationError, match=r"'shop/a.py' is not valid Python"):
        validate_project(GeneratedProject(files={"shop/a.py": b"x = 1\x00\n"}), NAME, LIMITS)


def test_python_with_invalid_utf8_is_refused() -> None:
    with pytest.raises(GenerationError, match=r"'shop/a.py' is not valid Python"):
        validate_project(GeneratedProject(files={"shop/a.py": b"x = '\xff'\n"}), NAME, LIMITS)


def test_python_compile_warnings_are_not_errors() -> None:
    # An invalid escape sequence is a SyntaxWarning (an error under this repo's pytest config).
    validate_project(GeneratedProject(files={"shop/a.py": b"import re\nP = re.compile('\\d+')\n"}), NAME, LIMITS)


def test_unparsable_json_names_file_and_line() -> None:
    files = good_files()
    files["shop/config/settings.json"] = b'{\n  "a": 1,\n  "b": \n}\n'
    with pytest.raises(GenerationError, match=r"'shop/config/settings.json' is not valid JSON: .* line 4"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)


def test_non_utf_json_is_refused() -> None:
    with pytest.raises(GenerationError, match=r"'shop/a.json' is not valid JSON"):
        validate_project(GeneratedProject(files={"shop/a.json": b'{"a": "\xff"}'}), NAME, LIMITS)


def test_yaml_is_not_parsed() -> None:
    validate_project(GeneratedProject(files={"shop/template.yaml": b"a: [unclosed\n"}), NAME, LIMITS)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("shop/README.md", "shop/readme.md"),
        ("shop/app/Models.py", "shop/app/models.py"),
        ("shop/App/models.py", "shop/app/models.py"),
    ],
)
def test_case_collisions_are_refused(first: str, second: str) -> None:
    files = good_files() | {first: b"", second: b""}
    with pytest.raises(GenerationError, match="differ only in letter case"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)


def test_directories_differing_in_case_with_distinct_files_pass() -> None:
    # They merge into one directory on a case-insensitive file system; no file is overwritten.
    validate_project(GeneratedProject(files={"shop/App/a.py": b"", "shop/app/b.py": b""}), NAME, LIMITS)


def test_file_used_as_directory_is_refused() -> None:
    files = {"shop/app": b"", "shop/app/main.py": b""}
    with pytest.raises(GenerationError, match="also used as a directory"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)
    files = {"shop/App": b"", "shop/app/main.py": b""}
    with pytest.raises(GenerationError, match="also used as a directory"):
        validate_project(GeneratedProject(files=files), NAME, LIMITS)
