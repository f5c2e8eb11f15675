#!/usr/bin/perl
# lab/lib/collect.pl — ground-truth collector, run INSIDE a lab container:
#   podman exec -i CTR perl - [--file PATH]... < collect.pl
# Reads /proc as the container sees it and prints one JSON object on stdout:
#   { collected_at, self_pid, processes: [...], sockets: [...], files: [...] }
# It leaves itself out (its own pid). Nothing is written inside the container.
use strict;
use warnings;
use JSON::PP;
use Digest::SHA;
use POSIX qw(strftime);

my @want_files;
while (@ARGV) {
    my $a = shift @ARGV;
    if ($a eq '--file') { push @want_files, shift @ARGV; }
    else { die "collect.pl: unknown argument $a\n"; }
}

sub slurp {
    my ($p, $max) = @_;
    open(my $fh, '<:raw', $p) or return undef;
    local $/;
    my $d = <$fh>;
    close $fh;
    $d = '' unless defined $d;
    $d = substr($d, 0, $max) if defined $max && length($d) > $max;
    return $d;
}

sub hash_path {    # sha256 + size of whatever PATH opens to (works for /proc/PID/fd/N)
    my ($p) = @_;
    open(my $fh, '<:raw', $p) or return (undef, undef);
    my $sha = Digest::SHA->new(256);
    my ($n, $buf, $size) = (0, '', 0);
    while (($n = sysread($fh, $buf, 1 << 20)) && $n > 0) { $sha->add($buf); $size += $n; }
    close $fh;
    return ($sha->hexdigest, $size);
}

sub text_or_null {    # the content as a string when it is small printable UTF-8 text
    my ($d) = @_;
    return undef unless defined $d && length($d) <= 4096;
    return undef if $d =~ /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
    my $copy = $d;
    return undef unless utf8::decode($copy);
    return $copy;
}

# ---------------------------------------------------------------- sockets
my %TCP_STATE = (
    '01' => 'ESTABLISHED', '02' => 'SYN_SENT', '03' => 'SYN_RECV', '04' => 'FIN_WAIT1',
    '05' => 'FIN_WAIT2', '06' => 'TIME_WAIT', '07' => 'CLOSE', '08' => 'CLOSE_WAIT',
    '09' => 'LAST_ACK', '0A' => 'LISTEN', '0B' => 'CLOSING', '0C' => 'NEW_SYN_RECV',
);

sub addr4 {
    my ($hex) = @_;
    my ($ip, $port) = split /:/, $hex;
    my @b = reverse map { hex } ($ip =~ /(..)(..)(..)(..)/);
    return (join('.', @b), hex($port));
}

sub addr6 {
    my ($hex) = @_;
    my ($ip, $port) = split /:/, $hex;
    my @w = map { join '', reverse(/(..)(..)(..)(..)/) } ($ip =~ /(.{8})/g);
    my $s = join '', @w;
    my $txt = join ':', map { sprintf '%x', hex } ($s =~ /(.{4})/g);
    return ($txt, hex($port));
}

my %sock;    # inode => socket description
sub parse_net {    # parse_net(DIR) — DIR is /proc/PID/net of a process in the netns to read
    my ($dir) = @_;
    for my $proto (qw(tcp tcp6 udp udp6)) {
        open(my $fh, '<', "$dir/$proto") or next;
        <$fh>;
        while (my $l = <$fh>) {
            $l =~ s/^\s+//;
            my @f = split /\s+/, $l;
            my ($la, $lp) = $proto =~ /6/ ? addr6($f[1]) : addr4($f[1]);
            my ($ra, $rp) = $proto =~ /6/ ? addr6($f[2]) : addr4($f[2]);
            my ($tx, $rx) = map { hex } split /:/, $f[4];
            $sock{$f[9]} = {
                proto => $proto, inode => $f[9] + 0,
                local => "$la:$lp", local_addr => $la, local_port => $lp,
                remote => "$ra:$rp", remote_addr => $ra, remote_port => $rp,
                state => ($proto =~ /tcp/ ? ($TCP_STATE{$f[3]} // $f[3]) : ($f[3] eq '07' ? 'UNCONN' : $f[3])),
                tx_queue => $tx, rx_queue => $rx,
            };
        }
        close $fh;
    }
    if (open(my $fh, '<', "$dir/unix")) {
        <$fh>;
        while (my $l = <$fh>) {
            chomp $l;
            my @f = split ' ', $l, 8;
            $sock{$f[6]} = {
                proto => 'unix', inode => $f[6] + 0,
                type => ({ '0001' => 'stream', '0002' => 'dgram', '0005' => 'seqpacket' }->{$f[4]} // $f[4]),
                path => $f[7], listening => ($f[3] eq '00010000' ? JSON::PP::true : JSON::PP::false),
            };
        }
        close $fh;
    }
}

opendir(my $pd0, '/proc') or die "collect.pl: /proc: $!\n";
my @pids = sort { $a <=> $b } grep { /^\d+$/ && $_ != $$ } readdir $pd0;
closedir $pd0;
# sockets of every network namespace the processes are in (a restored container may be in
# another one than this collector)
my %netns_done;
for my $pid ($$, @pids) {
    my $ns = readlink("/proc/$pid/ns/net") // next;
    next if $netns_done{$ns}++;
    parse_net("/proc/$pid/net");
}

# ---------------------------------------------------------------- processes
my @procs;
my %used_sock;
for my $pid (@pids) {
    my $status = slurp("/proc/$pid/status");
    next unless defined $status;
    my %st = map { /^([^:]+):\s*(.*)$/ ? ($1 => $2) : () } split /\n/, $status;
    my $cmd = slurp("/proc/$pid/cmdline") // '';
    my @argv = split /\0/, $cmd, -1;
    pop @argv if @argv && $argv[-1] eq '';
    my $env = slurp("/proc/$pid/environ") // '';
    my @env = split /\0/, $env, -1;
    pop @env if @env && $env[-1] eq '';
    my $comm = slurp("/proc/$pid/comm") // '';
    chomp $comm;
    my $exe = readlink("/proc/$pid/exe");
    my ($exe_sha, $exe_size) = hash_path("/proc/$pid/exe");
    my $stat = slurp("/proc/$pid/stat") // '';
    my ($after) = $stat =~ /\)\s+(.*)$/s;
    my @sf = split ' ', ($after // '');

    my @fds;
    if (opendir(my $fd, "/proc/$pid/fd")) {
        for my $n (sort { $a <=> $b } grep { /^\d+$/ } readdir $fd) {
            my $t = readlink("/proc/$pid/fd/$n");
            next unless defined $t;
            my $info = slurp("/proc/$pid/fdinfo/$n") // '';
            my %fi = map { /^(\w+):\s*(.*)$/ ? ($1 => $2) : () } split /\n/, $info;
            my %e = (fd => $n + 0, target => $t);
            $e{pos} = $fi{pos} + 0 if defined $fi{pos};
            $e{flags} = $fi{flags} if defined $fi{flags};
            if ($t =~ /^socket:\[(\d+)\]$/) {
                $e{socket} = $sock{$1} // { inode => $1 + 0, proto => 'unknown' };
                $used_sock{$1} = 1;
            }
            if ($t =~ m{^/memfd:} || $t =~ / \(deleted\)$/) {
                my ($sha, $size) = hash_path("/proc/$pid/fd/$n");
                $e{sha256} = $sha;
                $e{size} = $size;
                $e{text} = text_or_null(slurp("/proc/$pid/fd/$n", 4097));
                $e{deleted} = ($t =~ / \(deleted\)$/) ? JSON::PP::true : JSON::PP::false;
                $e{memfd} = ($t =~ m{^/memfd:}) ? JSON::PP::true : JSON::PP::false;
            }
            push @fds, \%e;
        }
        closedir $fd;
    }
    push @procs, {
        pid => $pid + 0,
        ppid => ($st{PPid} // 0) + 0,
        comm => $comm,
        netns => readlink("/proc/$pid/ns/net"),
        name => $st{Name},
        state => $st{State},
        uid => (split ' ', ($st{Uid} // ''))[0],
        gid => (split ' ', ($st{Gid} // ''))[0],
        threads => ($st{Threads} // 1) + 0,
        exe => $exe,
        exe_sha256 => $exe_sha,
        exe_size => $exe_size,
        cmdline => \@argv,
        cmdline_raw_hex => unpack('H*', substr($cmd, 0, 512)),
        environ => \@env,
        cwd => readlink("/proc/$pid/cwd"),
        start_ticks => (defined $sf[19] ? $sf[19] + 0 : undef),
        utime_ticks => (defined $sf[11] ? $sf[11] + 0 : undef),
        stime_ticks => (defined $sf[12] ? $sf[12] + 0 : undef),
        vm_rss_kb => (($st{VmRSS} // '0') =~ /(\d+)/)[0] + 0,
        fds => \@fds,
    };
}

my @files;
for my $p (@want_files) {
    my @s = lstat($p);
    if (!@s) { push @files, { path => $p, exists => JSON::PP::false }; next; }
    my %e = (path => $p, exists => JSON::PP::true, size => $s[7] + 0,
             mode => sprintf('%04o', $s[2] & 07777), uid => $s[4] + 0, mtime => $s[9] + 0);
    if (-l $p)    { $e{type} = 'symlink'; $e{link} = readlink($p); }
    elsif (-d _)  { $e{type} = 'dir'; }
    elsif (-f _)  {
        $e{type} = 'file';
        ($e{sha256}) = hash_path($p);
        $e{text} = text_or_null(slurp($p, 4097));
    }
    else { $e{type} = 'other'; }
    push @files, \%e;
}

# (a socket the tables do not list, e.g. one reset while we read, is described as its fds are)
my @sockets = map { $sock{$_} // { inode => $_ + 0, proto => 'unknown' } } sort { $a <=> $b } keys %used_sock;
print JSON::PP->new->canonical->pretty->encode({
    collected_at => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime),
    self_pid => $$ + 0,
    processes => \@procs,
    sockets => \@sockets,
    files => \@files,
});
