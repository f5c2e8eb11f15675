# lab/containerd/specimen.pl — the process the lab's containerd pod runs next to a shell
# loop: what an intruder's implant might look like, made to be seen in a checkpoint.
#   - a kernel-thread title ($0), a secret in memory;
#   - a file written, then deleted while still open (CRIU keeps its content: a ghost file);
#   - a TCP connection inside the pod (127.0.0.1:8081), with bytes left unread in the
#     receiving socket's queue (checkpointed with tcp-established).
use strict;
use IO::Socket::INET;
$0 = "[kworker/0:1-events]";
my $secret = "KCSI-CTRD-SECRET-7731";
open(my $stage, ">", "/tmp/.stage") or die "stage: $!";
syswrite($stage, "root:x:0:0:root:/root:/bin/sh\n");
unlink "/tmp/.stage";
my $l = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1", LocalPort => 8081, ReuseAddr => 1)
    or die "listen: $!";
my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => 8081) or die "connect: $!";
my $s = $l->accept or die "accept: $!";
syswrite($c, "PRIVMSG #ops :hello from $secret\r\n");
sleep 1 while 1;
