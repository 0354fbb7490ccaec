#!/usr/bin/perl
# Interoperability client for the SMPP HLR Gateway, built on Debian's
# libnet-smpp-perl (Net::SMPP 1.19). It runs one scenario against a gateway
# and prints one JSON object per line on stdout, for example
#   {"step":"bind_transceiver","status":0,"sequence_number":1,...}
# It exits non-zero when the peer breaks the protocol as seen from here: no
# response before the deadline, the connection lost while waiting, or a
# response that does not match its request. Whether a status is the RIGHT one
# is left to the caller (the Go harness in test/interop).
#
# Usage:
#   smpp_client.pl --scenario NAME [--host H] [--port P] [--system-id ID]
#                  [--password PW] [--timeout SECONDS] [--receipt-wait SECONDS]
#                  [--destination MSISDN] [--count N] [--interface-version V]
# Every option falls back to an environment variable: SMPP_HOST, SMPP_PORT,
# SMPP_SYSTEM_ID, SMPP_PASSWORD, SCENARIO, CLIENT_TIMEOUT, RECEIPT_WAIT,
# DESTINATION, COUNT, INTERFACE_VERSION. --interface-version (e.g. 0x33) is
# the bind's interface_version; PDUs are still decoded as v3.4, so any
# optional parameter the gateway sends shows up in the output ("tlv_tags").
#
# Scenarios: bind_transmitter bind_receiver bind_transceiver wrong_password
# unknown_system_id second_bind submit_before_bind submit_on_receiver
# unknown_command enquire_link unbind submit_valid submit_invalid
# receipt_via_receiver burst

use strict;
use warnings;
use Getopt::Long;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time);
use Net::SMPP;

$| = 1;

my %opt = (
    host         => $ENV{SMPP_HOST}      // '127.0.0.1',
    port         => $ENV{SMPP_PORT}      // 2776,
    system_id    => $ENV{SMPP_SYSTEM_ID} // 'testuser',
    password     => $ENV{SMPP_PASSWORD}  // 'testpass',
    scenario     => $ENV{SCENARIO}       // '',
    timeout      => $ENV{CLIENT_TIMEOUT} // 10,
    receipt_wait => $ENV{RECEIPT_WAIT}   // 10,
    destination  => $ENV{DESTINATION}    // '',
    count        => $ENV{COUNT}          // 20,
    interface_version => $ENV{INTERFACE_VERSION} // '0x34',
);
GetOptions(
    'host=s'         => \$opt{host},
    'port=i'         => \$opt{port},
    'system-id=s'    => \$opt{system_id},
    'password=s'     => \$opt{password},
    'scenario=s'     => \$opt{scenario},
    'timeout=f'      => \$opt{timeout},
    'receipt-wait=f' => \$opt{receipt_wait},
    'destination=s'  => \$opt{destination},
    'count=i'        => \$opt{count},
    'interface-version=s' => \$opt{interface_version},
) or fail('bad command line');
$opt{interface_version} = oct($opt{interface_version}) if $opt{interface_version} =~ /^0/;

# Numbers of the gateway's HLR simulator (reverse filtering, see the README).
my $VALID_NUMBER   = '13476841841';      # live subscriber -> 0x0B, no receipt
my $INVALID_NUMBER = '40722570240999';   # invalid -> accepted + DELIVRD receipt

# An id no SMPP version defines: the gateway must answer generic_nack 0x03.
my $UNKNOWN_COMMAND_ID = 0x00000077;

my %cmd_name = (
    0x80000000 => 'generic_nack',
    0x00000001 => 'bind_receiver',    0x80000001 => 'bind_receiver_resp',
    0x00000002 => 'bind_transmitter', 0x80000002 => 'bind_transmitter_resp',
    0x00000004 => 'submit_sm',        0x80000004 => 'submit_sm_resp',
    0x00000005 => 'deliver_sm',       0x80000005 => 'deliver_sm_resp',
    0x00000006 => 'unbind',           0x80000006 => 'unbind_resp',
    0x00000009 => 'bind_transceiver', 0x80000009 => 'bind_transceiver_resp',
    0x00000015 => 'enquire_link',     0x80000015 => 'enquire_link_resp',
);

my $json = JSON::PP->new->canonical(1);

sub emit {
    my (%h) = @_;
    print $json->encode(\%h), "\n";
}

sub fail {
    my ($msg, %extra) = @_;
    emit(step => 'error', error => $msg, %extra);
    exit 1;
}

sub cname { my $c = shift; return $cmd_name{$c} // sprintf('0x%08X', $c) }

# The optional parameters a decoded PDU carried: Net::SMPP keeps each under
# its numeric tag.
sub tlv_tags { my $pdu = shift; return [sort { $a <=> $b } map { $_ + 0 } grep { /^\d+$/ } keys %$pdu] }

sub connect_smpp {
    my $s = Net::SMPP->new_connect(
        $opt{host},
        port         => $opt{port},
        timeout      => $opt{timeout},
        smpp_version => 0x34,
        async        => 1,
    );
    fail("connect to $opt{host}:$opt{port} failed: $!") unless $s;
    emit(step => 'connect', ok => JSON::PP::true);
    return $s;
}

# Receipts (deliver_sm) seen while waiting for anything, in arrival order.
my @receipts;

# Reads the next PDU within $timeout seconds; answers the gateway's own
# requests (enquire_link, deliver_sm, unbind) on the way. Returns undef on a
# timeout; fails on EOF.
sub next_pdu {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my @ready = $sel->can_read($timeout < 0 ? 0 : $timeout);
    return undef unless @ready;
    my $pdu = $s->read_pdu();
    return 'EOF' unless $pdu;
    my $cmd = $pdu->{cmd};
    if ($cmd == 0x00000015) {
        $s->enquire_link_resp(seq => $pdu->{seq});
    } elsif ($cmd == 0x00000005) {
        my $rid = $pdu->{receipted_message_id};
        $rid =~ s/\0+$// if defined $rid;
        my $state = $pdu->{message_state};
        $state = unpack('C', $state) if defined $state && length($state) == 1;
        my %r = (
            step                 => 'deliver_sm',
            sequence_number      => $pdu->{seq},
            esm_class            => $pdu->{esm_class},
            source_addr          => $pdu->{source_addr},
            destination_addr     => $pdu->{destination_addr},
            short_message        => $pdu->{short_message},
            receipted_message_id => $rid,
            message_state        => $state,
            data_coding          => $pdu->{data_coding},
            tlv_tags             => tlv_tags($pdu),
        );
        push @receipts, \%r;
        emit(%r);
        $s->deliver_sm_resp(message_id => '', seq => $pdu->{seq});
    } elsif ($cmd == 0x00000006) {
        emit(step => 'unbind_from_server', sequence_number => $pdu->{seq});
        $s->unbind_resp(seq => $pdu->{seq});
    }
    return $pdu;
}

# Waits for the response with sequence number $seq; a response must carry
# $want_cmd or generic_nack. Emits it under the name $step.
sub wait_resp {
    my ($s, $step, $seq, $want_cmd, %extra) = @_;
    my $deadline = time() + $opt{timeout};
    while (1) {
        my $left = $deadline - time();
        fail("no response to $step (seq $seq) within $opt{timeout}s", step_of => $step) if $left <= 0;
        my $pdu = next_pdu($s, $left);
        next unless defined $pdu;
        fail("connection closed while waiting for the response to $step (seq $seq)", step_of => $step)
            if !ref $pdu;
        my $cmd = $pdu->{cmd};
        next unless $cmd & 0x80000000;
        if ($pdu->{seq} != $seq) {
            # A generic_nack for a request we did not send, or a late response.
            emit(step => 'unexpected_response', command => cname($cmd), command_id => $cmd,
                 status => $pdu->{status}, sequence_number => $pdu->{seq});
            next;
        }
        if ($cmd != $want_cmd && $cmd != 0x80000000) {
            fail(sprintf('response to %s has command_id 0x%08X, want 0x%08X or generic_nack', $step, $cmd, $want_cmd),
                 step_of => $step, status => $pdu->{status}, sequence_number => $pdu->{seq});
        }
        my %out = (
            step                    => $step,
            command                 => cname($cmd),
            command_id              => $cmd,
            status                  => $pdu->{status},
            sequence_number         => $pdu->{seq},
            request_sequence_number => $seq,
            %extra,
        );
        $out{system_id}  = $pdu->{system_id}  if defined $pdu->{system_id} && $pdu->{system_id} ne '';
        $out{message_id} = $pdu->{message_id} if defined $pdu->{message_id} && $pdu->{message_id} ne '';
        $out{body_length} = length($pdu->{data} // '');
        $out{tlv_tags} = tlv_tags($pdu);
        emit(%out);
        return $pdu;
    }
}

my %bind_cmd = (
    bind_transmitter => 0x00000002,
    bind_receiver    => 0x00000001,
    bind_transceiver => 0x00000009,
);

sub do_bind {
    my ($s, $mode, %cred) = @_;
    my $sid = $cred{system_id} // $opt{system_id};
    my $pw  = $cred{password}  // $opt{password};
    my $seq = $s->$mode(system_id => $sid, password => $pw, system_type => 'interop',
                        interface_version => $opt{interface_version}, async => 1);
    return wait_resp($s, $cred{step} // $mode, $seq, $bind_cmd{$mode} | 0x80000000);
}

sub must_bind {
    my ($s, $mode) = @_;
    my $resp = do_bind($s, $mode);
    fail("$mode refused with status $resp->{status}", step_of => $mode) if $resp->{status} != 0;
    return $resp;
}

sub send_submit {
    my ($s, $dest) = @_;
    return $s->submit_sm(
        source_addr_ton     => 1,
        source_addr_npi     => 1,
        source_addr         => '447700900123',
        dest_addr_ton       => 1,
        dest_addr_npi       => 1,
        destination_addr    => $dest,
        registered_delivery => 1,
        short_message       => 'interop test from Net::SMPP',
        async               => 1,
    );
}

sub do_submit {
    my ($s, $step, $dest) = @_;
    my $seq = send_submit($s, $dest);
    return wait_resp($s, $step, $seq, 0x80000004, destination => $dest);
}

sub do_unbind {
    my ($s) = @_;
    my $seq = $s->unbind(async => 1);
    wait_resp($s, 'unbind', $seq, 0x80000006);
}

# Waits up to $wait seconds for receipts; returns early once $count arrived.
sub wait_receipts {
    my ($s, $wait, $count) = @_;
    my $deadline = time() + $wait;
    while (@receipts < $count) {
        my $left = $deadline - time();
        last if $left <= 0;
        my $pdu = next_pdu($s, $left);
        next unless defined $pdu;
        fail('connection closed while waiting for receipts') if !ref $pdu;
    }
    return scalar @receipts;
}

sub finish {
    my ($s) = @_;
    close($s) if $s;
    emit(step => 'done', ok => JSON::PP::true);
    exit 0;
}

my %scenarios = (
    bind_transmitter => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transmitter');
        my $seq = $s->enquire_link(async => 1);
        wait_resp($s, 'enquire_link', $seq, 0x80000015);
        do_unbind($s);
        finish($s);
    },
    bind_receiver => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_receiver');
        my $seq = $s->enquire_link(async => 1);
        wait_resp($s, 'enquire_link', $seq, 0x80000015);
        do_unbind($s);
        finish($s);
    },
    bind_transceiver => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        my $seq = $s->enquire_link(async => 1);
        wait_resp($s, 'enquire_link', $seq, 0x80000015);
        do_unbind($s);
        finish($s);
    },
    wrong_password => sub {
        my $s = connect_smpp();
        do_bind($s, 'bind_transceiver', password => 'wrongpw');
        finish($s);
    },
    unknown_system_id => sub {
        my $s = connect_smpp();
        do_bind($s, 'bind_transceiver', system_id => 'nosuchuser');
        finish($s);
    },
    second_bind => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        do_bind($s, 'bind_transmitter', step => 'second_bind');
        finish($s);
    },
    submit_before_bind => sub {
        my $s = connect_smpp();
        do_submit($s, 'submit_before_bind', $opt{destination} || $INVALID_NUMBER);
        finish($s);
    },
    submit_on_receiver => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_receiver');
        do_submit($s, 'submit_on_receiver', $opt{destination} || $INVALID_NUMBER);
        do_unbind($s);
        finish($s);
    },
    unknown_command => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        # Net::SMPP builds a PDU with any command id through req_backend.
        my $seq = 4242;
        $s->req_backend($UNKNOWN_COMMAND_ID, '', $s, async => 1, seq => $seq);
        wait_resp($s, 'unknown_command', $seq, 0x80000000 | $UNKNOWN_COMMAND_ID,
                  request_command_id => $UNKNOWN_COMMAND_ID);
        # The session must still be usable afterwards.
        my $eseq = $s->enquire_link(async => 1);
        wait_resp($s, 'enquire_link', $eseq, 0x80000015);
        finish($s);
    },
    enquire_link => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        for my $i (1 .. 3) {
            my $seq = $s->enquire_link(async => 1);
            wait_resp($s, 'enquire_link', $seq, 0x80000015);
        }
        finish($s);
    },
    unbind => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        do_unbind($s);
        # After unbind_resp the gateway should close the connection.
        my $pdu = next_pdu($s, $opt{timeout});
        emit(step => 'after_unbind', closed => (defined $pdu && !ref $pdu) ? JSON::PP::true : JSON::PP::false);
        finish($s);
    },
    submit_valid => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        do_submit($s, 'submit_sm', $opt{destination} || $VALID_NUMBER);
        my $n = wait_receipts($s, $opt{receipt_wait}, 1);
        emit(step => 'receipts', count => $n);
        do_unbind($s);
        finish($s);
    },
    submit_invalid => sub {
        my $s = connect_smpp();
        must_bind($s, 'bind_transceiver');
        my $resp = do_submit($s, 'submit_sm', $opt{destination} || $INVALID_NUMBER);
        my $n = 0;
        if ($resp->{status} == 0) {
            $n = wait_receipts($s, $opt{receipt_wait}, 1);
        }
        emit(step => 'receipts', count => $n);
        fail('no receipt arrived within ' . $opt{receipt_wait} . 's') if $resp->{status} == 0 && $n == 0;
        do_unbind($s);
        finish($s);
    },
    # Submit on a transmitter bind; the receipt comes to a receiver bind of the
    # same system_id on another connection.
    receipt_via_receiver => sub {
        my $rx = connect_smpp();
        must_bind($rx, 'bind_receiver');
        my $tx = connect_smpp();
        must_bind($tx, 'bind_transmitter');
        my $resp = do_submit($tx, 'submit_sm', $opt{destination} || $INVALID_NUMBER);
        my $n = 0;
        $n = wait_receipts($rx, $opt{receipt_wait}, 1) if $resp->{status} == 0;
        emit(step => 'receipts', count => $n);
        fail('no receipt arrived on the receiver within ' . $opt{receipt_wait} . 's') if $resp->{status} == 0 && $n == 0;
        do_unbind($tx);
        do_unbind($rx);
        close($tx);
        finish($rx);
    },
);

# Sends --count submit_sm back to back without waiting (a window's worth and
# more), then collects every response: for the window and throughput limits.
$scenarios{burst} = sub {
    my $s = connect_smpp();
    must_bind($s, 'bind_transceiver');
    my $dest = $opt{destination} || $VALID_NUMBER;
    my %pending;
    for my $i (1 .. $opt{count}) {
        $pending{send_submit($s, $dest)} = 1;
    }
    my %by_status;
    my $deadline = time() + $opt{timeout};
    while (%pending) {
        my $left = $deadline - time();
        fail(scalar(keys %pending) . " of $opt{count} submit_sm got no response within $opt{timeout}s") if $left <= 0;
        my $pdu = next_pdu($s, $left);
        next unless defined $pdu;
        fail('connection closed during the burst') if !ref $pdu;
        next unless $pdu->{cmd} & 0x80000000;
        if (!delete $pending{$pdu->{seq}}) {
            emit(step => 'unexpected_response', command => cname($pdu->{cmd}), command_id => $pdu->{cmd},
                 status => $pdu->{status}, sequence_number => $pdu->{seq});
            next;
        }
        emit(step => 'burst_submit', command => cname($pdu->{cmd}), command_id => $pdu->{cmd},
             status => $pdu->{status}, sequence_number => $pdu->{seq}, request_sequence_number => $pdu->{seq},
             body_length => length($pdu->{data} // ''),
             (defined $pdu->{message_id} && $pdu->{message_id} ne '' ? (message_id => $pdu->{message_id}) : ()));
        $by_status{$pdu->{status}}++;
    }
    emit(step => 'burst', count => $opt{count}, statuses => \%by_status);
    wait_receipts($s, 1, 1 << 30);    # answer any receipts before leaving
    do_unbind($s);
    finish($s);
};

my $run = $scenarios{$opt{scenario}}
    or fail("unknown scenario '$opt{scenario}'; known: " . join(' ', sort keys %scenarios));
$run->();
