@echo off
rem a batch file
set X=1
echo %X%
