"""Flash state: a write cut at any byte leaves the old or the new state; a corrupt slot is
ignored and replaced; nothing is renamed (FAT refuses rename onto a file); tokens are written
only when they change."""

from __future__ import annotations

import os

import pytest
from test_grants import generic

from conftest import write_config
from iotauth import store as store_mod
from iotauth.store import KEYS as Store_KEYS


def load(st):
    return store_mod.load(st)


def paths(st):
    return (st[0], st[0] + ".1")


class PowerCut(Exception):
    pass


class CutFile:
    """A file that loses power after ``budget`` bytes: what was written stays, nothing more."""

    def __init__(self, f, budget):
        self.f, self.budget = f, budget

    def write(self, data):
        if self.budget is not None and len(data) > self.budget:
            self.f.write(data[: self.budget])
            self.f.flush()
            raise PowerCut()
        if self.budget is not None:
            self.budget -= len(data)
        return self.f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def cutting_open(budget):
    def _open(path, mode="r", *a):
        f = open(path, mode, *a)
        return CutFile(f, budget) if "w" in mode else f

    return _open


def fields(n):
    return ("x", f"access-{n}", f'refresh-"{n}"\\', 3600, None, 1700000000 + n)


def state(n):
    return dict(zip(Store_KEYS[1:], fields(n), strict=True))


@pytest.mark.parametrize("history", [1, 2, 3])
def test_power_cut_at_every_byte(tmp_path, monkeypatch, history):
    path = str(tmp_path / "auth.state")
    s = store_mod.new(path)
    for n in range(history):
        store_mod.save(s, fields(n))
    old = {k: v for k, v in load(store_mod.new(path)).items() if k != "n"}
    size = sum(len(str(v or "")) + 1 for v in fields(history)) + 40
    tried = 0
    for cut in range(size + 1):
        snapshot = {p: open(p, "rb").read() for p in paths(s) if os.path.exists(p)}
        s2 = store_mod.new(path)
        load(s2)
        monkeypatch.setattr(store_mod, "open", cutting_open(cut), raising=False)
        try:
            store_mod.save(s2, fields(history))
            done = True
        except PowerCut:
            done = False
        monkeypatch.undo()
        got = load(store_mod.new(path))
        assert got is not None, f"cut at byte {cut}: nothing loads"
        got = {k: v for k, v in got.items() if k != "n"}
        assert got == (state(history) if done else old), f"cut at byte {cut}"
        for p, data in snapshot.items():  # back to the state before this write
            with open(p, "wb") as f:
                f.write(data)
        tried += 1
    assert tried == size + 1


def test_store_has_no_rename_at_all():
    import ast

    from harness import FIRMWARE

    tree = ast.parse((FIRMWARE / "iotauth" / "store.py").read_text())
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"rename", "replace", "remove", "unlink"}


def test_never_renames(tmp_path, monkeypatch):
    def refuse(*_a):
        raise OSError(17, "EEXIST")  # FAT: rename onto an existing file fails

    monkeypatch.setattr(os, "rename", refuse)
    s = store_mod.new(str(tmp_path / "auth.state"))
    for n in range(4):
        store_mod.save(s, fields(n))
        assert load(store_mod.new(s[0]))["a"] == f"access-{n}"


@pytest.mark.parametrize("junk", [b"", b"\x00" * 40, b"{not json", b"{}\n0000", b"\xff" * 9000])
def test_corrupt_state_is_ignored_and_replaced(junk, runner, server, flash):
    write_config(flash, generic(server))
    for name in ("auth.state", "auth.state.1"):
        (flash / name).write_bytes(junk)
    res = runner.run("import iotauth\nout('t', iotauth.load().token())\n")
    assert res["t"] and len(server.state.requests) == 1
    again = runner.run("import iotauth\nout('t', iotauth.load().token())\n")
    assert again["t"] == res["t"] and len(server.state.requests) == 1


def test_written_only_when_tokens_change(runner, server, flash):
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    runner.run("import iotauth\niotauth.load().token()\n")
    files = {p.name: p.read_bytes() for p in flash.glob("auth.state*")}
    assert list(files) == ["auth.state.1"] or list(files) == ["auth.state"]
    runner.run("import iotauth\na = iotauth.load()\nfor i in range(50):\n a.token()\n a.poll()\n")
    assert {p.name: p.read_bytes() for p in flash.glob("auth.state*")} == files
    runner.run("import iotauth\na = iotauth.load()\na.invalidate()\na.token()\n")
    after = {p.name: p.read_bytes() for p in flash.glob("auth.state*")}
    assert len(after) == 2 and after != files


def test_state_of_other_credentials_is_not_used(runner, server, flash):
    write_config(flash, generic(server))
    t1 = runner.run("import iotauth\nout('t', iotauth.load().token())\n")["t"]
    write_config(flash, generic(server, scope="read"))  # re-provisioned: new identity
    t2 = runner.run("import iotauth\nout('t', iotauth.load().token())\n")["t"]
    assert t1 != t2 and len(server.state.requests) == 2


def test_state_file_keeps_secrets_out_of_repr(tmp_path):
    s = store_mod.new(str(tmp_path / "auth.state"))
    store_mod.save(s, fields(1))
    assert "access" not in repr(s) and "refresh-1" not in repr(s)
