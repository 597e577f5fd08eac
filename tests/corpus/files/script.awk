#!/usr/bin/awk -f
{ total += $1 }
END { print total }
