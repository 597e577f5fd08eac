dnl an m4 file
define(`HELLO', `world')dnl
HELLO
