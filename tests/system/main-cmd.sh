#!/bin/sh
# The main command of the container-entrypoint tests (svc-init -- main-cmd).
#   main-cmd exit N        exit with status N
#   main-cmd kill-self N   die of signal N
#   main-cmd wait-term     print "main-cmd: ready", then on SIGTERM write
#                          /out/main-term (when /out exists) and exit 7
echo "main-cmd: started as pid $$ (args: $*)"
case $1 in
exit) exit "$2" ;;
kill-self) kill -s "$2" $$ ;;
wait-term)
  trap 'echo "main-cmd: got SIGTERM"; [ -d /out ] && echo term >/out/main-term; exit 7' TERM
  echo "main-cmd: ready"
  while :; do
    sleep 1 &
    wait $!
  done
  ;;
*) echo "main-cmd: unknown mode $1"; exit 64 ;;
esac
