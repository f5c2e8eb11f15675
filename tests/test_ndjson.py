"""--ndjson: every view's JSON, a line per element of the top-level array (an
object view prints its object on one line): the lines parse, and they are the
--json document's elements."""
import json

import kt
from kt import eq, run

VIEWS = [['show'], ['ps'], ['ps', '--env'], ['files'], ['maps', '--pid', '15'], ['mounts'], ['rootfs'],
         ['strings', '-n', '24', '--pid', '15'], ['memgrep', '--pid', '15', 'A', 'PBKEY'], ['net'], ['meta'],
         ['history'], ['list', 'tests/data/fixtures']]


def test_ndjson_lines_are_the_json_elements():
    a = kt.fixture('perlbot')
    for v in VIEWS:
        args = v if v[0] == 'list' else [a if w == 'A' else w for w in v] if 'A' in v else v + [a]
        whole = json.loads(run(args[0], '--json', *args[1:])[1])
        text = run(args[0], '--ndjson', *args[1:])[1].decode()
        lines = [json.loads(l) for l in text.splitlines()]
        assert all(l.strip() for l in text.splitlines()), (v, text[:200])
        if isinstance(whole, list):
            eq(lines, whole, 'kcsi %s --ndjson' % ' '.join(v))
        else:
            eq(lines, [whole], 'kcsi %s --ndjson (an object: one line)' % ' '.join(v))
    # nothing found: no line at all
    eq(run('memgrep', '--ndjson', a, 'no-such-text-anywhere-KCSI', check=False)[1], b'', 'empty result')
