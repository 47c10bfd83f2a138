#!/usr/bin/env python3
"""Generate a synthetic Chakra project: N models in K apps, F fields each, a foreign key to the
previous model. It is the schema ../shared/bench/django_bench.py builds for Django, field for
field, so the two can be timed side by side (docs/benchmarks.md).

usage: gen.py DIR N_MODELS FIELDS [APPS] [--no-derive]

DIR gets a Cargo package `chakra_bench_<N>` with a `manage` binary and a chakra.toml (SQLite).
With --no-derive the same structs are written without `#[derive(Model)]` and attributes: the
baseline for the build time the derive adds.

Field j of every model, as in the Django script:
  j % 5 == 0  CharField(max_length=100)        -> #[chakra(max_length = 100)] String
  j % 5 == 1  IntegerField(null=True)          -> Option<i32>
  j % 5 == 2  BooleanField(default=False)      -> #[chakra(default = false)] bool
  j % 5 == 3  DateTimeField(null=True)         -> Option<DateTime<Utc>>
  j % 5 == 4  TextField(db_index=True)         -> #[chakra(index)] String
plus Django's BigAutoField `id` and, from the second model on, `parent` (ForeignKey, CASCADE,
indexed as Django indexes every foreign key) to the previous model, which lives in the
previous app, so the apps reference each other in a ring.
"""
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def field_lines(j, derive):
    t = j % 5
    attr, ty = {
        0: ("max_length = 100", "String"),
        1: (None, "Option<i32>"),
        2: ("default = false", "bool"),
        3: (None, "Option<DateTime<Utc>>"),
        4: ("index", "String"),
    }[t]
    out = []
    if attr and derive:
        out.append(f"    #[chakra({attr})]")
    out.append(f"    pub f{j}: {ty},")
    return out


def generate(d, n, f, k, derive=True):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(f"{d}/src/bin")
    apps = [f"app{i}" for i in range(k)]
    name = f"chakra_bench_{n}" + ("" if derive else "_plain")
    with open(f"{d}/Cargo.toml", "w") as c:
        c.write(
            f"""[package]
name = "{name}"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
chakra = {{ path = "{REPO}/chakra", default-features = false, features = ["sqlite", "postgres"] }}
chakra-cli = {{ path = "{REPO}/chakra-cli", default-features = false, features = ["sqlite", "postgres"] }}
chrono = {{ version = "0.4", default-features = false, features = ["std", "clock"] }}

[workspace]

[profile.release]
debug = false
"""
        )
    with open(f"{d}/chakra.toml", "w") as c:
        c.write(
            '[project]\nmanage = "manage"\n\n[database]\nurl = "sqlite://db.sqlite3"\n\n'
            '[migrations]\ndirectory = "migrations"\n'
        )
    per = {a: [] for a in apps}
    for m in range(n):
        per[apps[m % k]].append(m)
    with open(f"{d}/src/lib.rs", "w") as lib:
        lib.write("#![allow(dead_code, missing_docs)]\n")
        for a in apps:
            lib.write(f"pub mod {a};\n")
    for a in apps:
        with open(f"{d}/src/{a}.rs", "w") as mf:
            mf.write("use chrono::{DateTime, Utc};\n")
            if derive:
                mf.write("use chakra::Model;\n")
            for m in per[a]:
                if derive:
                    mf.write("#[derive(Model)]\n")
                    mf.write(f'#[chakra(table = "{a}_m{m}", app = "{a}")]\n')
                mf.write(f"pub struct M{m} {{\n")
                if derive:
                    mf.write("    #[chakra(primary_key)]\n")
                mf.write("    pub id: i64,\n")
                for j in range(f):
                    mf.write("\n".join(field_lines(j, derive)) + "\n")
                if m >= 1:
                    tgt = m - 1
                    ta = apps[tgt % k]
                    if derive:
                        mf.write(
                            f'    #[chakra(foreign_key = crate::{ta}::M{tgt}, on_delete = "cascade", index)]\n'
                        )
                    mf.write("    pub parent_id: i64,\n")
                mf.write("}\n")
            if not derive:
                # Keep the types used so the baseline compiles the same imports.
                mf.write("pub type _Used = (Option<DateTime<Utc>>,);\n")
    with open(f"{d}/src/bin/manage.rs", "w") as b:
        b.write(f"use {name} as _;\n\nfn main() -> std::process::ExitCode {{\n    chakra_cli::main()\n}}\n")
    return d


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) < 3:
        sys.exit(__doc__)
    generate(
        args[0],
        int(args[1]),
        int(args[2]),
        int(args[3]) if len(args) > 3 else 10,
        derive="--no-derive" not in sys.argv,
    )
