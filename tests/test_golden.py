"""Every view's text and JSON on every fixture, byte for byte, against
tests/golden/ (tests/golden.py --update records them; see its head comment)."""
import subprocess
import sys

import kt


def test_golden_outputs_unchanged():
    p = subprocess.run([sys.executable, kt.os.path.join(kt.HERE, 'golden.py')], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=dict(kt.os.environ, KCSI=kt.KCSI), timeout=1200)
    assert p.returncode == 0, p.stdout[-6000:]
