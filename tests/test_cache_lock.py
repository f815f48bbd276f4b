"Cached folders (warm starts, converted SmolLM2) are built once when several processes ask for one at the same time."
import subprocess, sys, textwrap
from pathlib import Path

BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from looptool_nb.student import _atomic_dir
    dst, log = Path(sys.argv[1]), Path(sys.argv[2])
    ready, n = log.parent/"ready", int(sys.argv[3]) if len(sys.argv) > 3 else 1
    ready.mkdir(exist_ok=True); (ready/str(time.time_ns())).touch()   # this process is about to ask for the lock
    def write(tmp):
        with open(log, "a") as f: f.write("built\\n")
        # hold the build until every process has imported and asked (a loaded machine imports slowly), then a second more
        for _ in range(600):
            if len(list(ready.iterdir())) >= n: break
            time.sleep(0.1)
        time.sleep(1.0); (tmp/"weights").write_text("w")
    print(_atomic_dir(dst, write))
""")


def test_processes_side_by_side_build_once(tmp_path):
    dst, log = tmp_path/"cache"/"tiny-1m-abc", tmp_path/"builds.log"
    procs = [subprocess.Popen([sys.executable, "-c", BUILD, str(dst), str(log), "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert log.read_text().splitlines() == ["built"]                      # one build; the others waited and reused it
    assert all(o.strip() == str(dst) for o, _ in outs)
    assert any("waiting for another process building" in e for _, e in outs)
    assert (dst/"weights").read_text() == "w"
    assert sorted(p.name for p in dst.parent.iterdir()) == [".tiny-1m-abc.lock", "tiny-1m-abc"]   # no temp folder left


def test_a_killed_build_leaves_nothing_that_blocks_the_next(tmp_path):
    dst, log = tmp_path/"cache"/"tiny-1m-abc", tmp_path/"builds.log"
    p = subprocess.Popen([sys.executable, "-c", BUILD, str(dst), str(log)])
    for _ in range(200):                                                     # wait until it is inside write()
        if log.exists(): break
        subprocess.run(["sleep", "0.05"])
    p.kill(); p.wait()
    assert not dst.exists() and any(x.name.startswith(".tiny-1m-abc.") and x.is_dir() for x in dst.parent.iterdir())
    r = subprocess.run([sys.executable, "-c", BUILD, str(dst), str(log)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (dst/"weights").read_text() == "w"
    assert sorted(x.name for x in dst.parent.iterdir()) == [".tiny-1m-abc.lock", "tiny-1m-abc"]   # the killed build's temp folder is gone
