#!/bin/sh
# ExaBGP API process for the exabgp-frr capture: withdraws and announces routes after the
# sessions are up, then stays alive (ExaBGP would respawn it otherwise).
sleep 10
echo "neighbor 10.99.0.2 withdraw route 198.18.0.0/24 next-hop 10.99.0.1 path-information 2"
echo "neighbor 10.99.0.2 withdraw route 198.18.8.0/24 next-hop 10.99.0.1 path-information 1"
echo "neighbor 10.99.0.2 withdraw route 198.18.9.0/24 next-hop 10.99.0.1 path-information 1"
echo "neighbor 10.99.0.2 withdraw route 2001:db8:e1::/48 next-hop fd00:99::1 path-information 1"
echo "neighbor 10.99.0.4 withdraw route 198.19.2.0/24 next-hop 10.99.0.3"
sleep 2
echo "neighbor 10.99.0.2 announce route 203.0.113.0/24 next-hop 10.99.0.1 path-information 9 as-path [ 4200000020 65530 ] local-preference 200 community [ 65020:100 ]"
echo "neighbor 10.99.0.4 announce route 198.19.9.0/24 next-hop 10.99.0.3 as-path [ 65020 ] origin incomplete"
while true; do sleep 60; done
