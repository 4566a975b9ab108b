"""The package's import graph has no cycles and respects the layers of docs/architecture.md.

Every ``import`` / ``from ... import`` in every ``.py`` file under ``mmreviosa/`` counts,
at any depth (inside functions and ``if TYPE_CHECKING:`` blocks too): a function-local
import is still a dependency, only a later one.  Relative imports are resolved; an
import of a name from a package counts as an import of the package's ``__init__``
(``from mmreviosa.text import ROLE_TOKENS``), of a submodule when the name is one
(``from mmreviosa import registry``).  A registry's ``locations`` are strings, not
imports: they are how the bottom layer reaches the modules that register.
"""
import ast
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict
from typing import Dict, List, NamedTuple, Optional

import pytest

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
PACKAGE = 'mmreviosa'

#: The components of the package by layer, lowest first.  A module belongs to the component
#: that is the longest prefix of its name.  A component may import the components of lower
#: layers; components of the same layer may import each other only in the layers listed in
#: ``OPEN_LAYERS`` (cycles are refused separately).  To add a package, add it to a layer.
LAYERS = (
    # 0. The root package (only the version), the version and the registries.
    ('mmreviosa', 'mmreviosa.version', 'mmreviosa.registry'),
    # 1. Plain helpers: local-path checks and set-up, the data sample, the file formats.
    ('mmreviosa.utils', 'mmreviosa.structures', 'mmreviosa.fileio'),
    # 2. The chat text and the tokenizers, shared by the data pipeline and the model.
    ('mmreviosa.text', ),
    # 3. Independent of each other: loading data, scoring it, building it offline, the model.
    ('mmreviosa.datasets', 'mmreviosa.evaluation', 'mmreviosa.builders', 'mmreviosa.models'),
    # 4. Training and checkpoint machinery around the model.
    ('mmreviosa.engine', ),
    # 5. Front ends, independent of each other; nothing in the package imports them.
    ('mmreviosa.apis', 'mmreviosa.visualization', 'mmreviosa.testing'),
)
OPEN_LAYERS = (0, 1)

#: Top-level folders of the repository that the package must never import.
OUTSIDE = ('tools', 'tests', 'demo', 'benchmarks', 'projects', 'configs')


class Edge(NamedTuple):
    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f'{self.path}:{self.line}: {self.source} -> {self.target}'


def package_modules() -> Dict[str, str]:
    """Module name -> file path of every .py file of the package."""
    modules = {}
    for folder, subfolders, files in os.walk(osp.join(REPO_ROOT, PACKAGE)):
        subfolders[:] = sorted(d for d in subfolders if d != '__pycache__')
        for name in sorted(files):
            if name.endswith('.py'):
                path = osp.join(folder, name)
                module = osp.relpath(path, REPO_ROOT)[:-3].replace(os.sep, '.')
                if module.endswith('.__init__'):
                    module = module[:-len('.__init__')]
                modules[module] = path
    return modules


def _imported_names(node, module: str, is_package: bool, modules) -> List[str]:
    """Modules an import statement of ``module`` loads (a submodule when a name is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split('.') if is_package else module.split('.')[:-1]
        base = base[:len(base) - node.level + 1]
        prefix = '.'.join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    return [f'{prefix}.{a.name}' if f'{prefix}.{a.name}' in modules else prefix
            for a in node.names]


def import_edges(modules: Dict[str, str]):
    """(edges inside the package, imports of repository folders outside it, imports of
    package modules that do not exist)."""
    edges, outside, missing = [], [], []
    for module, path in modules.items():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        rel_path = osp.relpath(path, REPO_ROOT)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported_names(node, module, path.endswith('__init__.py'), modules):
                top = name.split('.')[0]
                if top in OUTSIDE:
                    outside.append(Edge(module, name, rel_path, node.lineno))
                elif top == PACKAGE and name not in modules:
                    missing.append(Edge(module, name, rel_path, node.lineno))
                elif top == PACKAGE and name != module:
                    edges.append(Edge(module, name, rel_path, node.lineno))
    return sorted(set(edges)), sorted(set(outside)), sorted(set(missing))


def strongly_connected(nodes, successors) -> List[List[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(successors[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            advanced = False
            for succ in pending:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(successors[succ]))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def component_of(module: str) -> Optional[str]:
    candidates = [c for layer in LAYERS for c in layer
                  if module == c or module.startswith(c + '.')]
    return max(candidates, key=len) if candidates else None


def layer_of(component: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if component in layer)


def may_import(source: str, target: str) -> bool:
    """Whether component ``source`` may import component ``target``."""
    if source == target:
        return True
    source_layer, target_layer = layer_of(source), layer_of(target)
    return target_layer < source_layer or (target_layer == source_layer
                                           and source_layer in OPEN_LAYERS)


def layer_violations(edges) -> List[str]:
    out = []
    for edge in edges:
        source, target = component_of(edge.source), component_of(edge.target)
        if source is None or target is None:
            continue  # reported by test_every_module_belongs_to_a_layer
        if not may_import(source, target):
            out.append(f'{edge}  ({source}, layer {layer_of(source)}, may not import '
                       f'{target}, layer {layer_of(target)})')
    return out


@pytest.fixture(scope='module')
def graph():
    modules = package_modules()
    return (modules, *import_edges(modules))


def test_every_module_belongs_to_a_layer(graph):
    modules = graph[0]
    unplaced = [m for m in modules if component_of(m) is None]
    assert not unplaced, f'add these packages to LAYERS in {__file__}: {unplaced}'


def test_no_import_cycles(graph):
    modules, edges = graph[:2]
    successors = defaultdict(set)
    for edge in edges:
        successors[edge.source].add(edge.target)
    cycles = strongly_connected(sorted(modules), successors)
    report = []
    for members in cycles:
        inside = set(members)
        report.append('cycle: ' + ', '.join(members))
        report += [f'    {e}' for e in edges if e.source in inside and e.target in inside]
    assert not cycles, '\n'.join(report)


def test_no_imports_across_the_layers(graph):
    violations = layer_violations(graph[1])
    assert not violations, '\n'.join(violations)


def test_the_package_imports_nothing_outside_it(graph):
    outside = graph[2]
    assert not outside, '\n'.join(map(str, outside))


def test_every_import_of_the_package_names_an_existing_module(graph):
    missing = graph[3]
    assert not missing, '\n'.join(map(str, missing))


def test_the_checker_finds_a_cycle_and_a_crossing():
    # A self-check on a made-up graph: a -> b -> c -> a, plus d -> d (ignored) and e alone.
    successors = defaultdict(set, {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()})
    assert strongly_connected(['a', 'b', 'c', 'd', 'e'], successors) == [['a', 'b', 'c']]
    crossing = Edge('mmreviosa.datasets.x', 'mmreviosa.models.y', 'mmreviosa/datasets/x.py', 3)
    upward = Edge('mmreviosa.registry', 'mmreviosa.text.chat', 'mmreviosa/registry.py', 1)
    downward = Edge('mmreviosa.models.y', 'mmreviosa.text', 'mmreviosa/models/y.py', 2)
    assert [v.split(':')[0] for v in layer_violations([crossing, upward, downward])] == \
        ['mmreviosa/datasets/x.py', 'mmreviosa/registry.py']


def test_relative_imports_are_resolved():
    modules = {'mmreviosa.models.heads.head': 'h', 'mmreviosa.models.utils': 'u',
               'mmreviosa.models.heads': 'i'}
    node = ast.parse('from ..utils import frames').body[0]
    assert _imported_names(node, 'mmreviosa.models.heads.head', False, modules) == \
        ['mmreviosa.models.utils']
    node = ast.parse('from . import head').body[0]
    assert _imported_names(node, 'mmreviosa.models.heads', True, modules) == \
        ['mmreviosa.models.heads.head']


def _loaded_after(statement: str) -> List[str]:
    code = (f'import sys\n{statement}\n'
            f'print("\\n".join(sorted(m for m in sys.modules)))')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=REPO_ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_importing_the_data_side_does_not_load_the_model():
    loaded = _loaded_after('import mmreviosa.datasets, mmreviosa.evaluation')
    assert not [m for m in loaded if m.startswith('mmreviosa.models')]
    # Nor what only the model needs: SAM2, mmdet, mmcv's compiled ops, xtuner.
    assert not {'sam2', 'mmdet', 'mmcv.ops', 'xtuner'} & set(loaded)


def test_importing_the_package_loads_only_its_version():
    loaded = _loaded_after('import mmreviosa')
    assert sorted(m for m in loaded if m.startswith(PACKAGE)) == ['mmreviosa', 'mmreviosa.version']
