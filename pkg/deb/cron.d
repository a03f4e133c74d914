# /etc/cron.d/upgr: poll the version server every minute and apply a new
# release when one is published (upgr(1), /usr/share/doc/upgr/operator.md).
#
# Disabled until configured. First edit /etc/upgr/upgr.yaml (servers, apps,
# trusted_keys; see upgr.yaml(5)), look at what a run would do with
#   upgr --dry-run
# then remove the '#' in front of the last line. A run with nothing to do
# prints nothing, so cron mails only when something happened or failed.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
#* * * * * root /usr/bin/upgr --splay 30
