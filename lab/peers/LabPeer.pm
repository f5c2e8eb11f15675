package LabPeer;
# Shared helpers of the lab's fake network peers (host side). Every socket a peer opens is
# on a 127.x.x.x address: anything else is refused here.
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);
use POSIX qw(strftime);
use Exporter 'import';
our @EXPORT = qw(lab_listen lab_connect lab_udp lab_summary lab_ts lab_args lab_printable);

sub lab_ts {
    my $t = time;
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime($t)) . sprintf('.%03dZ', ($t - int($t)) * 1000);
}

sub _check_loopback {
    my ($addr) = @_;
    die "peer: refusing non-loopback address '$addr'\n" unless $addr =~ /^127\.\d+\.\d+\.\d+$/;
}

# lab_listen("127.a.b.c:port") -> listening socket
sub lab_listen {
    my ($spec) = @_;
    my ($addr, $port) = split /:/, $spec;
    _check_loopback($addr);
    my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port, Proto => 'tcp',
                                  Listen => 16, ReuseAddr => 1)
        or die "peer: cannot listen on $spec: $!\n";
    return $s;
}

# lab_udp("127.a.b.c:port") -> UDP socket bound there
sub lab_udp {
    my ($spec) = @_;
    my ($addr, $port) = split /:/, $spec;
    _check_loopback($addr);
    my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port, Proto => 'udp', ReuseAddr => 1)
        or die "peer: cannot bind udp $spec: $!\n";
    return $s;
}

# lab_printable(BYTES, MAX) — the first MAX bytes with non-printable bytes as \xNN (for summaries)
sub lab_printable {
    my ($d, $max) = @_;
    $d = substr($d, 0, $max) if defined $max && length($d) > $max;
    $d =~ s/([^\x20-\x7e\n])/sprintf('\\x%02x', ord $1)/ge;
    return $d;
}

# lab_connect("127.a.b.c:port", timeout_seconds) -> connected socket (retries until timeout)
sub lab_connect {
    my ($spec, $timeout) = @_;
    my ($addr, $port) = split /:/, $spec;
    _check_loopback($addr);
    my $end = time + ($timeout // 20);
    while (1) {
        my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port, Proto => 'tcp', Timeout => 2);
        return $s if $s;
        die "peer: cannot connect to $spec: $!\n" if time > $end;
        select(undef, undef, undef, 0.2);
    }
}

# lab_summary(PATH, HASHREF) — write the peer's JSON summary atomically
sub lab_summary {
    my ($path, $data) = @_;
    return unless $path;
    $data->{updated_at} = lab_ts();
    open(my $fh, '>', "$path.tmp") or die "peer: $path.tmp: $!\n";
    print $fh JSON::PP->new->canonical->pretty->encode($data);
    close $fh;
    rename("$path.tmp", $path) or die "peer: rename $path: $!\n";
}

# lab_args(\@ARGV, {name => default}) — parse --name value pairs. Every peer also takes
# --lifetime SECONDS (default 600): it exits by itself after that long, or as soon as the
# scenario that started it is gone (killed), whichever comes first.
sub lab_args {
    my ($argv, $defaults) = @_;
    my %o = (%$defaults, lifetime => 600);
    while (@$argv) {
        my $k = shift @$argv;
        $k =~ s/^--// or die "peer: bad argument $k\n";
        die "peer: unknown option --$k\n" unless exists $o{$k};
        $o{$k} = shift @$argv;
    }
    # once a second: stop when the lifetime is over or the scenario that started us is gone
    my ($parent, $end) = (getppid(), time + $o{lifetime});
    $SIG{ALRM} = sub {
        if (getppid() != $parent || ($o{lifetime} > 0 && time > $end)) { kill 'TERM', $$; return; }
        alarm(1);
    };
    alarm(1);
    return \%o;
}

1;
