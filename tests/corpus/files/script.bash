#!/bin/bash
declare -a xs=(1 2 3)
for x in "${xs[@]}"; do echo "$x"; done
