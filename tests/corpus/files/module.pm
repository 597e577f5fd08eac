package Corpus::Thing;
use strict;
use warnings;

sub new { my $class = shift; return bless {}, $class; }

1;
