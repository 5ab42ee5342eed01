"""course.review: what a teacher should read by hand, and what must stay unflagged."""

import pytest

from course.review import review


def flags(source: str) -> list[str]:
    return review([("cell 7", source)])


FLAGGED = [
    # course internals
    ("import course.checkers", "uses course internals (course.checkers)"),
    ("from course import checkers", "uses course internals (course.checkers)"),
    ("from course.grade import grade_notebook", "uses course internals (course.grade)"),
    ("import course.catalog as cat\ncat.CATALOG", "uses course internals (course.catalog)"),
    ("import course\ncourse.checking.expected", "uses course internals (course.checking)"),
    ("from course import check, Checker", "uses course internals (course.Checker)"),
    ("from course import *", "uses course internals (course.*)"),
    ("from course import check\ncheck.__globals__['CATALOG']",
     "uses course internals (course.check.__globals__)"),
    ("import sys\nsys.modules['course.store'].reset()", "uses course internals (course.store)"),
    ("import importlib\nimportlib.import_module('course.catalog')",
     "uses course internals (course.catalog)"),
    # frames and introspection of the caller
    ("import sys\nf = sys._getframe(1)", "inspects frames (sys._getframe)"),
    ("import inspect as ins\nins.currentframe()", "inspects frames (inspect.currentframe)"),
    ("from inspect import stack\nstack()", "inspects frames (inspect.stack)"),
    ("import inspect\ninspect.getouterframes(f)", "inspects frames (inspect.getouterframes)"),
    ("def peek(fr):\n    return fr.f_back.f_globals['x']", "inspects frames (.f_back)"),
    ("def peek(fr):\n    return fr.f_back.f_globals['x']", "inspects frames (.f_globals)"),
    ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e.__traceback__.tb_frame.f_locals",
     "inspects frames (.tb_frame)"),
    ("getattr(gen, 'gi_frame')", "inspects frames (.gi_frame)"),
    ("coro.cr_frame", "inspects frames (.cr_frame)"),
    # the garbage collector
    ("import gc", "uses the garbage collector (gc)"),
    ("from gc import get_referrers as refs\nrefs(check)", "uses the garbage collector (gc)"),
    ("import gc as g\n[o for o in g.get_objects() if hasattr(o, 'expected')]",
     "uses the garbage collector (gc)"),
    # ctypes
    ("import ctypes", "uses ctypes"),
    ("from ctypes import pythonapi", "uses ctypes"),
    ("c = __import__('ctypes')\nc.CDLL(None)", "uses ctypes"),
    # process control
    ("import os as o\no.kill(o.getppid(), 9)", "controls processes (os.kill)"),
    ("from os import fork as spawn\nspawn()", "controls processes (os.fork)"),
    ("import os\nos._exit(0)", "controls processes (os._exit)"),
    ("import os\nos.killpg(0, 9)", "controls processes (os.killpg)"),
    ("from os import setsid, forkpty", "controls processes (os.setsid)"),
    ("from os import setsid, forkpty", "controls processes (os.forkpty)"),
    ("import signal\nsignal.alarm(0)", "controls processes (signal)"),
    ("from signal import SIGKILL", "controls processes (signal)"),
    ("import pty\npty.fork()", "controls processes (pty.fork)"),
    ("from multiprocessing import Process", "controls processes (multiprocessing)"),
    ("import subprocess as sp\nsp.run(['true'])", "controls processes (subprocess)"),
    ("getattr(__import__('os'), 'kill')(1, 9)", "controls processes (os.kill)"),
    ("from os import *\nfork()", "controls processes (os.fork)"),
    # patching builtins and imported modules
    ("import builtins\nbuiltins.print = lambda *a: None", "patches builtins (builtins.print)"),
    ("import builtins as b\nb.len = len", "patches builtins (builtins.len)"),
    ("__builtins__.abs = lambda x: 0", "patches builtins (__builtins__.abs)"),
    ("__builtins__['abs'] = lambda x: 0", "patches builtins (__builtins__)"),
    ("import builtins\nsetattr(builtins, 'abs', f)", "patches builtins (builtins.abs)"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True",
     "patches imported code (numpy.allclose)"),
    ("import sys\nsys.modules['adlab'] = fake", "patches imported code (sys.modules)"),
    # code built at run time
    ("exec(code)", "builds code at run time (exec)"),
    ("eval(f'{a} + {b}')", "builds code at run time (eval)"),
    ("compile(src, 'x', 'exec')", "builds code at run time (compile)"),
    ("m = __import__(name)", "builds code at run time (__import__)"),
    ("import importlib\nimportlib.import_module('c' + 'types')",
     "builds code at run time (importlib.import_module)"),
    ("run = exec\nrun(code)", "builds code at run time (exec)"),
    ("import builtins\nbuiltins.eval(s)", "builds code at run time (eval)"),
    ("exec('import ctypes')", "uses ctypes"),  # a literal is reviewed as code
    # IPython lines are skipped, the Python around them is not
    ("%%time\n!ls\nimport gc", "uses the garbage collector (gc)"),
    # a cell that does not parse is read as text
    ("import ctypes\ndef broken(:\n    pass", "uses ctypes"),
    ("import os as o\nx = (\no.kill(1, 9)", "controls processes (os.kill)"),
    ("from course import checkers\nthis is not python", "uses course internals (course.checkers)"),
    ("def f(:\n    return sys._getframe(1).f_back", "inspects frames (sys._getframe)"),
    ("def f(:\n    return sys._getframe(1).f_back", "inspects frames (.f_back)"),
    ("import gc as g\nx = !ls", "uses the garbage collector (gc)"),
    ("files = !ls\nexec(files[0])", "builds code at run time (exec)"),
    ("__builtins__.len = 3 +", "patches builtins (__builtins__)"),
    ("import subprocess\nif True\n    subprocess.run(x)", "controls processes (subprocess)"),
]


@pytest.mark.parametrize("source, flag", FLAGGED)
def test_flagged(source, flag):
    assert f"cell 7: {flag}" in flags(source)


CLEAN = [
    "import numpy as np\nimport adlab as ad\n"
    "A = np.eye(3)\nx = np.linalg.solve(A, np.ones(3))\ny = ad.sin(ad.Var(2.0))",
    "class Robot:\n    def kill_switch(self):\n        return 0\n\nRobot().kill_switch()",
    "import numpy as np\nframe = np.zeros((3, 3))\nframe[0, 0] = 1.0\nprint(frame.shape)",
    "from course import check, progress\ncheck('03.sin_tangent')\nprogress()",
    "from course import check\nfrom course import progress as p\np()",
    "from course.expr import Plus, Variable\nPlus(Variable('x', 1.0), Variable('y', 2.0))",
    "import course.expr\ncourse.expr.Multiply",
    "# ctypes would be faster here; gc.collect() too\n"
    "note = 'import ctypes; ctypes.CDLL(None); os.kill(1, 9)'\n"
    "def f():\n    '''Not gc, not subprocess, not sys._getframe.'''",
    "%matplotlib inline\n!pip install ctypes\nimport matplotlib.pyplot as plt\n"
    "plt.rcParams['figure.figsize'] = (8, 4)",
    "import numpy as np\nsignal = np.sin(np.linspace(0, 1))\nsignal.mean()",
    "def smooth(signal, gc=0.5):\n    return signal.mean() * gc",
    "import re\npattern = re.compile(r'\\d+')\nimport ast\nast.literal_eval('[1, 2]')",
    "eval('1 + 2')",
    "g_compiled = g_log.compile()\nexplorer.seed = seed\nstepper.position = stepper.N + 2",
    "import importlib.metadata\nimportlib.metadata.version(name)",
    "import inspect\ninspect.signature(print)\nimport os\nos.path.join('a', 'b')",
    "import time\nt0 = time.perf_counter()\nkill = 3\nfork = kill + 1",
    "def f(:\n    frame = np.zeros(3)\n    return np.linalg.solve(frame, x)",  # broken, clean
    "",
]


@pytest.mark.parametrize("source", CLEAN)
def test_clean(source):
    assert flags(source) == []


def test_order_labels_and_repeats():
    cells = [("cell 1", "import numpy as np"),
             ("cell 3", "import ctypes\nctypes.CDLL(None)\nimport gc\nimport ctypes"),
             ("cell 5", "import ctypes")]
    assert review(cells) == ["cell 3: uses ctypes", "cell 3: uses the garbage collector (gc)",
                             "cell 5: uses ctypes"]
    assert review(cells) == review(list(cells))  # deterministic


def test_names_carry_across_cells():
    cells = [("cell 1", "import os as o\nfrom os import kill as k"),
             ("cell 2", "o.fork()"), ("cell 3", "k(1, 9)"), ("cell 4", "o = 0\no.kill(1, 9)")]
    assert review(cells) == ["cell 1: controls processes (os.kill)",  # the import itself
                             "cell 2: controls processes (os.fork)",
                             "cell 3: controls processes (os.kill)",
                             "cell 4: controls processes (os.kill)"]


def test_rebinding_does_not_hide():
    assert flags("import os as o\no.kill(1, 9)\no = None") == [
        "cell 7: controls processes (os.kill)"]
    assert flags("o = __import__('os')\no.fork()") == ["cell 7: controls processes (os.fork)"]
