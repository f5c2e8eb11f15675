#!/usr/bin/python3
"""lab/containerd/cri.py — the kubelet's side of the CRI (runtime.v1), for the lab.

Talks gRPC to a containerd socket with python3-grpcio; the few CRI messages the lab needs
are encoded from a field table (the numbers are those of k8s.io/cri-api runtime/v1) with
tests/pbedit.py's wire-format helpers, so no generated code and no protoc are needed.

  cri.py SOCK version
  cri.py SOCK pull IMAGE                                        (ImageService PullImage) -> prints the image ref
  cri.py SOCK pod-up NS POD UID LOGDIR                          -> prints the sandbox id
  cri.py SOCK ctr-run SID NS POD UID LOGDIR NAME IMAGE [-a K=V | -e K=V]... [-- CMD...]
                  (-a: a container annotation, -e: an environment variable)
                                                                -> create + start; prints the container id
  cri.py SOCK checkpoint CID PATH [TIMEOUT]                     (CheckpointContainer, the kubelet's call)
  cri.py SOCK ctr-state CID                                     -> CREATED, RUNNING, EXITED or UNKNOWN
  cri.py SOCK pod-down SID                                      (StopPodSandbox + RemovePodSandbox)
Exit 0 ok; 1 the CRI call failed (the gRPC status and message on stderr).
"""
import os
import sys

import grpc

# the protobuf wire format, written once for the project (tests/pbedit.py)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests'))
import pbedit  # noqa: E402

RUNTIME = '/runtime.v1.RuntimeService/'
IMAGES = '/runtime.v1.ImageService/'

# message -> {field: (number, kind)}; kind: 'str', 'int', 'bool', 'map', 'strs', a message
# name, or ['Message'] for a repeated message
SCHEMA = {
    'VersionRequest': {'version': (1, 'str')},
    'PodSandboxMetadata': {'name': (1, 'str'), 'uid': (2, 'str'), 'namespace': (3, 'str'), 'attempt': (4, 'int')},
    'NamespaceOption': {'network': (1, 'int'), 'pid': (2, 'int'), 'ipc': (3, 'int')},
    'LinuxSandboxSecurityContext': {'namespace_options': (1, 'NamespaceOption')},
    'LinuxPodSandboxConfig': {'security_context': (2, 'LinuxSandboxSecurityContext')},
    'PodSandboxConfig': {'metadata': (1, 'PodSandboxMetadata'), 'hostname': (2, 'str'), 'log_directory': (3, 'str'),
                         'labels': (6, 'map'), 'annotations': (7, 'map'), 'linux': (8, 'LinuxPodSandboxConfig')},
    'RunPodSandboxRequest': {'config': (1, 'PodSandboxConfig')},
    'ContainerMetadata': {'name': (1, 'str'), 'attempt': (2, 'int')},
    'ImageSpec': {'image': (1, 'str'), 'user_specified_image': (18, 'str')},
    'KeyValue': {'key': (1, 'str'), 'value': (2, 'str')},
    'LinuxContainerSecurityContext': {'namespace_options': (3, 'NamespaceOption')},
    'LinuxContainerConfig': {'security_context': (2, 'LinuxContainerSecurityContext')},
    'ContainerConfig': {'metadata': (1, 'ContainerMetadata'), 'image': (2, 'ImageSpec'), 'command': (3, 'strs'),
                        'args': (4, 'strs'), 'envs': (6, ['KeyValue']), 'labels': (9, 'map'),
                        'annotations': (10, 'map'), 'log_path': (11, 'str'), 'linux': (15, 'LinuxContainerConfig')},
    'CreateContainerRequest': {'pod_sandbox_id': (1, 'str'), 'config': (2, 'ContainerConfig'),
                               'sandbox_config': (3, 'PodSandboxConfig')},
    'ContainerIdRequest': {'container_id': (1, 'str')},
    'CheckpointContainerRequest': {'container_id': (1, 'str'), 'location': (2, 'str'), 'timeout': (3, 'int')},
    'ContainerStatusRequest': {'container_id': (1, 'str'), 'verbose': (2, 'bool')},
    'PodSandboxIdRequest': {'pod_sandbox_id': (1, 'str')},
    'PullImageRequest': {'image': (1, 'ImageSpec')},
}
STATES = ['CREATED', 'RUNNING', 'EXITED', 'UNKNOWN']
NS_POD, NS_CONTAINER = 0, 1   # runtime.v1 NamespaceMode


def triples(msg_name, value):
    """`value` (a dict) as [[field, wire type, value], ...] of message `msg_name`, for
    pbedit.enc; fields in number order, empty scalars left out as protobuf does."""
    out = []
    spec = SCHEMA[msg_name]
    for name in sorted(value, key=lambda k: spec[k][0]):
        num, kind = spec[name]
        v = value[name]
        if kind == 'str':
            out += [[num, 2, v.encode()]] if v else []
        elif kind in ('int', 'bool'):
            out += [[num, 0, int(v)]] if v else []
        elif kind == 'strs':
            out += [[num, 2, x.encode()] for x in v]
        elif kind == 'map':
            out += [[num, 2, triples('KeyValue', {'key': k, 'value': x})] for k, x in v.items()]
        elif isinstance(kind, list):
            out += [[num, 2, triples(kind[0], x)] for x in v]
        else:
            out += [[num, 2, triples(kind, v)]]
    return out


def encode(msg_name, value):
    return pbedit.enc(triples(msg_name, value))


def fields(buf):
    """Top-level fields of a serialised message: {number: [int or bytes, ...]}."""
    out = {}
    for num, _, v in pbedit.msg(buf):
        out.setdefault(num, []).append(v)
    return out


def call(sock, method, msg, value, timeout=180, service=RUNTIME):
    channel = grpc.insecure_channel('unix://' + sock)
    stub = channel.unary_unary(service + method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        return fields(stub(encode(msg, value), timeout=timeout))
    except grpc.RpcError as e:
        sys.exit('CRI %s: %s: %s' % (method, e.code().name, e.details()))
    finally:
        channel.close()


def sandbox(ns, pod, uid, logdir):
    """What the kubelet sends for a plain pod: its own network namespace (CNI), a pid
    namespace per container, the pod's IPC namespace."""
    return {'metadata': {'name': pod, 'uid': uid, 'namespace': ns}, 'hostname': pod, 'log_directory': logdir,
            'labels': {'io.kubernetes.pod.name': pod, 'io.kubernetes.pod.namespace': ns,
                       'io.kubernetes.pod.uid': uid},
            'annotations': {'kubernetes.io/config.source': 'api'},
            'linux': {'security_context': {'namespace_options': {'network': NS_POD, 'pid': NS_CONTAINER,
                                                                 'ipc': NS_POD}}}}


def main(argv):
    sock, verb, args = argv[1], argv[2], argv[3:]
    if verb == 'version':
        r = call(sock, 'Version', 'VersionRequest', {'version': 'v1'})
        print(' '.join(r[n][0].decode() for n in (2, 3, 4)))
    elif verb == 'pull':
        r = call(sock, 'PullImage', 'PullImageRequest', {'image': {'image': args[0]}}, service=IMAGES)
        print(r[1][0].decode())
    elif verb == 'pod-up':
        ns, pod, uid, logdir = args
        r = call(sock, 'RunPodSandbox', 'RunPodSandboxRequest', {'config': sandbox(ns, pod, uid, logdir)})
        print(r[1][0].decode())
    elif verb == 'ctr-run':
        sid, ns, pod, uid, logdir, name, image = args[:7]
        rest = args[7:]
        cmd = rest[rest.index('--') + 1:] if '--' in rest else []
        opts = rest[:rest.index('--')] if '--' in rest else rest
        ann = {'io.kubernetes.container.restartCount': '0',
               'io.kubernetes.container.terminationMessagePath': '/dev/termination-log'}
        envs = [{'key': 'APP_ENV', 'value': 'production'}]
        for i in range(0, len(opts), 2):
            assert opts[i] in ('-a', '-e'), 'usage: -a KEY=VALUE or -e KEY=VALUE'
            k, v = opts[i + 1].split('=', 1)
            if opts[i] == '-a':
                ann[k] = v
            else:
                envs.append({'key': k, 'value': v})
        config = {'metadata': {'name': name}, 'image': {'image': image, 'user_specified_image': image},
                  'command': cmd, 'log_path': name + '/0.log',
                  'envs': envs,
                  'labels': {'io.kubernetes.container.name': name, 'io.kubernetes.pod.name': pod,
                             'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.uid': uid},
                  'annotations': ann,
                  'linux': {'security_context': {'namespace_options': {'network': NS_POD, 'pid': NS_CONTAINER,
                                                                       'ipc': NS_POD}}}}
        r = call(sock, 'CreateContainer', 'CreateContainerRequest',
                 {'pod_sandbox_id': sid, 'config': config, 'sandbox_config': sandbox(ns, pod, uid, logdir)})
        cid = r[1][0].decode()
        call(sock, 'StartContainer', 'ContainerIdRequest', {'container_id': cid})
        print(cid)
    elif verb == 'checkpoint':
        timeout = int(args[2]) if len(args) > 2 else 60
        call(sock, 'CheckpointContainer', 'CheckpointContainerRequest',
             {'container_id': args[0], 'location': args[1], 'timeout': timeout}, timeout=timeout + 120)
    elif verb == 'ctr-state':
        r = call(sock, 'ContainerStatus', 'ContainerStatusRequest', {'container_id': args[0]})
        st = fields(r[1][0]).get(3, [0])[0]
        print(STATES[st] if st < len(STATES) else 'UNKNOWN')
    elif verb == 'pod-down':
        call(sock, 'StopPodSandbox', 'PodSandboxIdRequest', {'pod_sandbox_id': args[0]})
        call(sock, 'RemovePodSandbox', 'PodSandboxIdRequest', {'pod_sandbox_id': args[0]})
    else:
        sys.exit('cri.py: unknown verb %s (see the head of this file)' % verb)


if __name__ == '__main__':
    main(sys.argv)
