# IANA zone names for --tz, read when completing, not when loading
function __coachctl_zones
    string replace -r '^/usr/share/zoneinfo/' '' /usr/share/zoneinfo/{Africa,America,Antarctica,Arctic,Asia,Atlantic,Australia,Europe,Indian,Pacific}/** /usr/share/zoneinfo/UTC
end

# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_coachctl_global_optspecs
    string join \n database-url= profile= as= o/output= tz= y/yes no-input v/verbose color= h/help V/version
end

function __fish_coachctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_coachctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_coachctl_using_subcommand
    set -l cmd (__fish_coachctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c coachctl -n "__fish_coachctl_needs_command" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_needs_command" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_needs_command" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_needs_command" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_needs_command" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_needs_command" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_needs_command" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_needs_command" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_needs_command" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_needs_command" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "db" -d 'The database: start, stop, status, migrate, reset'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "coach" -d 'Coaches: create, list, show, update, promote, deactivate'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "member" -d 'Members: create (signup), list, show, update, assign, onboarding, privacy'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "availability" -d 'Weekly availability windows and blocked dates'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "slots" -d 'Open slots of a coach, in the coach\'s time zone'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "book" -d 'Book a slot (atomic: never overbooks)'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "session" -d 'Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "notify" -d 'The email outbox: list, send (cron), retry'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "admin" -d 'Named admins: create, list, remove'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "audit" -d 'The audit log: who changed what, when'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "doctor" -d 'Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "man" -d 'Write man pages for every command into a directory'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "demo" -d 'Seed a small realistic organisation and show it'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "seed" -d 'Declare an organisation from a TOML or JSON file: create what is missing (CI)'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "invite" -d 'Invitations: send, list, accept, decline, revoke'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "connect" -d 'Connections between coaches and members: request, respond, list, remove'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "message" -d 'Messages between a coach and their members: send, list'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "program" -d 'Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "insight" -d 'Coaching insights from a coach to their member: add, list, ack'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "config" -d 'The config file (~/.config/coachctl/config.toml): show the effective settings'
complete -c coachctl -n "__fish_coachctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "up" -d 'Create and start the embedded database if needed, apply migrations (idempotent)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "down" -d 'Stop the embedded database'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "status" -d 'Where the database lives, the server version and the schema version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "migrate" -d 'Apply pending schema migrations'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "reset" -d 'Drop all coachctl data and recreate the schema (asks first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "backup" -d 'Write a backup of coachctl\'s database (pg_dump\'s custom format) to FILE'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "restore" -d 'Restore a backup made by `db backup` into the embedded database'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "upgrade" -d 'Move the embedded cluster to the installed PostgreSQL version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "destroy" -d 'Stop the embedded database and remove it with all its data (asks first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and not __fish_seen_subcommand_from up down status migrate reset backup restore upgrade destroy help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from up" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from down" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from migrate" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from reset" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from backup" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from upgrade" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from destroy" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "up" -d 'Create and start the embedded database if needed, apply migrations (idempotent)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "down" -d 'Stop the embedded database'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "status" -d 'Where the database lives, the server version and the schema version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Apply pending schema migrations'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Drop all coachctl data and recreate the schema (asks first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "backup" -d 'Write a backup of coachctl\'s database (pg_dump\'s custom format) to FILE'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Restore a backup made by `db backup` into the embedded database'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "upgrade" -d 'Move the embedded cluster to the installed PostgreSQL version'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "destroy" -d 'Stop the embedded database and remove it with all its data (asks first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "dashboard" -d 'What a coach looks at first: today, this week, members, proposals, activity'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "report" -d 'One row per member and the coach\'s utilisation a week (80 columns; -o json|csv)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "create" -d 'Create a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "list" -d 'List coaches'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "show" -d 'Show a coach\'s profile: member count, free capacity, ratings'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "update" -d 'Change a coach\'s profile (admin, or the coach themself)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "promote" -d 'Make an existing member a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "deactivate" -d 'Deactivate a coach: they stop taking members and cannot act (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and not __fish_seen_subcommand_from dashboard report create list show update promote deactivate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from dashboard" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l from -d 'From this day\'s week (default: 12 weeks before --to)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l to -d 'Up to this day (default: today)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from report" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l email -d 'The coach\'s email address (unique)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l name -d 'The coach\'s display name' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l timezone -d 'The coach\'s IANA time zone; availability is read in it' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l specialization -d 'Specialization, e.g. "strength training"' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l bio -d 'A short biography' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l certifications -d 'Certifications, free text' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l max-members -d 'Most active members the coach takes (default 20)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l min-notice -d 'Minimum notice for a booking, in minutes (default 0)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l horizon -d 'Take bookings at most this many days ahead' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l accepting -d 'Accept new members (the default for a new coach)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l not-accepting -d 'Stop accepting new members; hides the coach from signup'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l no-horizon -d 'Take bookings any time ahead (the default)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l limit -d 'At most this many coaches' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l after -d 'Start after this coach: the email or id of the last one shown (coaches are ordered by email)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l accepting -d 'Only coaches accepting members (the signup choice)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l all -d 'Include deactivated coaches'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l timezone -d 'New IANA time zone' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l specialization -d 'Specialization, e.g. "strength training"' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l bio -d 'A short biography' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l certifications -d 'Certifications, free text' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l max-members -d 'Most active members the coach takes (default 20)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l min-notice -d 'Minimum notice for a booking, in minutes (default 0)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l horizon -d 'Take bookings at most this many days ahead' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l accepting -d 'Accept new members (the default for a new coach)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l not-accepting -d 'Stop accepting new members; hides the coach from signup'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l no-horizon -d 'Take bookings any time ahead (the default)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l specialization -d 'Specialization, e.g. "strength training"' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l bio -d 'A short biography' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l certifications -d 'Certifications, free text' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l max-members -d 'Most active members the coach takes (default 20)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l min-notice -d 'Minimum notice for a booking, in minutes (default 0)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l horizon -d 'Take bookings at most this many days ahead' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l accepting -d 'Accept new members (the default for a new coach)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l not-accepting -d 'Stop accepting new members; hides the coach from signup'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l no-horizon -d 'Take bookings any time ahead (the default)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from promote" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from deactivate" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "dashboard" -d 'What a coach looks at first: today, this week, members, proposals, activity'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "report" -d 'One row per member and the coach\'s utilisation a week (80 columns; -o json|csv)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "list" -d 'List coaches'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a coach\'s profile: member count, free capacity, ratings'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a coach\'s profile (admin, or the coach themself)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "promote" -d 'Make an existing member a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "deactivate" -d 'Deactivate a coach: they stop taking members and cannot act (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand coach; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "create" -d 'Create a member; with --coach this is signup with a coach choice'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "list" -d 'List members (a coach sees their own, a member only themself)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "show" -d 'Show one member'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "update" -d 'Change a member\'s profile; an empty text clears a field'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "assign" -d 'Assign a member to a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "unassign" -d 'Remove a member\'s coach (admin, or that coach)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "onboarding" -d 'Set onboarding status: pending, in_progress or completed'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "dashboard" -d 'What a member looks at first: next session, the next three, their coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "progress" -d 'Attendance, ratings, programs and sessions a week over the last 12 weeks'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "sharing" -d 'What the member\'s coach sees: goals (default on) and health info (default off); without flags, shows the current settings'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "history" -d 'Every assignment, unassignment and connection change, with when and who, and each coach relationship\'s status (pending, active, inactive, terminated); a coach sees only their own period'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "import" -d 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "export" -d 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "privacy" -d 'Set who may find the member: public, connections or private'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and not __fish_seen_subcommand_from create list show update assign unassign onboarding dashboard progress sharing history import export privacy help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l email -d 'The member\'s email address (unique)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l name -d 'The member\'s display name' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l timezone -d 'The member\'s IANA time zone' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l coach -d 'Assign this coach (email or id); refused if full or not accepting' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l goals -d 'The member\'s goals' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l health-info -d 'Health information the coach should know' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l coach -d 'Only members of this coach (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l status -d 'Only members with this membership status' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l limit -d 'At most this many members' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l after -d 'Start after this member: the email or id of the last one shown (members are ordered by email)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l unassigned -d 'Only members without a coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l timezone -d 'New IANA time zone' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l goals -d 'Goals' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l health-info -d 'Health information' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l coach-notes -d 'Coach-private notes (coach and admins only)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l status -d 'Membership status: active, inactive or paused' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l coach -d 'The coach\'s email or id' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from assign" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from unassign" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from onboarding" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from dashboard" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from progress" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l goals -d 'Share goals with the coach' -r -f -a "on\t''
off\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l health-info -d 'Share health information with the coach' -r -f -a "on\t''
off\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from sharing" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from history" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l coach -d 'Assign every member of the file to this coach (email, id or id prefix)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l update -d 'Change existing members whose row differs (else such rows are errors)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l dry-run -d 'Check the file and print what would change; write nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l coach -d 'Only the members of this coach (email, id or id prefix)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from privacy" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a member; with --coach this is signup with a coach choice'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "list" -d 'List members (a coach sees their own, a member only themself)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one member'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a member\'s profile; an empty text clears a field'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "assign" -d 'Assign a member to a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "unassign" -d 'Remove a member\'s coach (admin, or that coach)'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "onboarding" -d 'Set onboarding status: pending, in_progress or completed'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "dashboard" -d 'What a member looks at first: next session, the next three, their coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "progress" -d 'Attendance, ratings, programs and sessions a week over the last 12 weeks'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "sharing" -d 'What the member\'s coach sees: goals (default on) and health info (default off); without flags, shows the current settings'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "history" -d 'Every assignment, unassignment and connection change, with when and who, and each coach relationship\'s status (pending, active, inactive, terminated); a coach sees only their own period'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "privacy" -d 'Set who may find the member: public, connections or private'
complete -c coachctl -n "__fish_coachctl_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "add" -d 'Add a weekly window, in the coach\'s own time zone'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "list" -d 'List weekly windows'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "update" -d 'Change a window; refused while booked sessions would fall outside'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "remove" -d 'Remove a window; refused while it has booked future sessions'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "block" -d 'Block a date or a range of dates (time off)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "unblock" -d 'Remove blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "blocks" -d 'List blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and not __fish_seen_subcommand_from add list update remove block unblock blocks help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l coach -d 'The coach (email or id); a coach acting may leave it out' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l day -d 'Day of week: sun..sat, a full name, or 0-6 (Sunday = 0)' -r -f -a "mon\t''
tue\t''
wed\t''
thu\t''
fri\t''
sat\t''
sun\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l start -d 'Start, HH:MM' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l end -d 'End, HH:MM (after the start)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l length -d 'Session length in minutes' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l buffer -d 'Minutes kept free before and after each session' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l capacity -d 'Sessions per slot (max_sessions_per_slot)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l coach -d 'Only this coach\'s windows (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l day -d 'New day of week' -r -f -a "mon\t''
tue\t''
wed\t''
thu\t''
fri\t''
sat\t''
sun\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l start -d 'New start, HH:MM' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l end -d 'New end, HH:MM' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l length -d 'New session length in minutes' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l buffer -d 'New buffer in minutes' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l capacity -d 'New sessions per slot' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l coach -d 'The coach (email or id); a coach acting may leave it out' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l date -d 'The first blocked date in the coach\'s zone: YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l to -d 'The last blocked date (default: the same day)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l reason -d 'Why, for the record' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from block" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from unblock" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l coach -d 'Only this coach\'s blocks' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from blocks" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a weekly window, in the coach\'s own time zone'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "list" -d 'List weekly windows'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a window; refused while booked sessions would fall outside'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a window; refused while it has booked future sessions'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "block" -d 'Block a date or a range of dates (time off)'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "unblock" -d 'Remove blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "blocks" -d 'List blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand availability; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l coach -d 'The coach (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l from -d 'First local date (default: today in the coach\'s zone): YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l days -d 'How many days from --from (default 7)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l to -d 'Last local date, inclusive' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l all -d 'List full slots too, with remaining 0'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l watch -d 'Keep the view current as others book and cancel (Ctrl-C stops): on a terminal it redraws, otherwise it prints one JSON line per change'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand slots" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l coach -d 'The coach (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l at -d 'The slot\'s start, e.g. 2027-03-29T09:00, \'tomorrow 9:00\', \'mon 14:30\'; without an offset it is read in the coach\'s zone. Left out on a terminal: choose from a list, then confirm' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l member -d 'The member (email or id); a member acting books for themself' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l notes -d 'Notes for the coach' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l type -d 'initial, regular or followup (default: initial for a first session with the coach)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand book" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "list" -d 'List sessions (a member sees their own, a coach theirs)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "create" -d 'Put a member into a session (a coach proposes, an admin schedules)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "accept" -d 'Accept a proposed session (the member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "decline" -d 'Decline a proposed session (the member); its seat is free again'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "reschedule" -d 'Move a session to another time, atomically (the member, the coach, an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "complete" -d 'Mark a session that took place as completed (the coach, an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "note" -d 'Add a note to a session (--private: the coach\'s own)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "rate" -d 'Rate a completed session, once (its member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "export" -d 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "remind" -d 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "show" -d 'Show one session'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "cancel" -d 'Cancel a scheduled session; its slot is free again at once'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and not __fish_seen_subcommand_from list create accept decline reschedule complete note rate export remind show cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l from -d 'From this date or time (inclusive): YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like \'tomorrow 9:00\'' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l to -d 'Until this date (inclusive) or time (exclusive)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l status -d 'Only sessions with this status' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l coach -d 'Only this coach\'s sessions' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l member -d 'Only this member\'s sessions' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l limit -d 'At most this many sessions' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l after -d 'Start after this session: the id of the last one shown (sessions are ordered by start, then id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l upcoming -d 'Only sessions still ahead that hold a seat (proposed or scheduled)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l all -d 'Past sessions too (without it, and without --from/--to, only sessions that have not ended are listed)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l member -d 'The member (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l coach -d 'The coach; a coach acting creates their own sessions' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l at -d 'The start, e.g. 2027-04-01T15:00, \'tomorrow 9:00\', \'fri 14:30\'; without an offset it is read in the coach\'s zone' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l length -d 'Length in minutes (default: the window\'s; off the grid 60)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l type -d 'initial, regular or followup (default: initial for a first session)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l notes -d 'A shared note for the member' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l expires -d 'Until when a proposal holds its seat, e.g. \'tomorrow 18:00\' (default 48 h, never after the start)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l off-grid -d 'Outside the coach\'s windows (capacity, buffers and blocks still hold)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from accept" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l reason -d 'Why, for the coach' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from decline" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l at -d 'The new start, e.g. 2027-04-05T09:00 or \'mon 9:00\'; without an offset it is read in the coach\'s zone' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from reschedule" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l notes -d 'Coach-private notes' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l outcomes -d 'What came out of it' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from complete" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l text -d 'The note' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l private -d 'Only the coach and admins read it'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from note" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l rating -d '1 to 5' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l feedback -d 'What went well or not' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from rate" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l coach -d 'Only this coach\'s sessions' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l member -d 'Only this member\'s sessions' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l from -d 'From this date or time (inclusive): YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like \'tomorrow 9:00\'' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l to -d 'Until this date (inclusive) or time (exclusive)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l ics -d 'Write iCalendar (the one export format)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -s q -l quiet -d 'Print only errors'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from remind" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l reason -d 'Why, for the record and the other party' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "list" -d 'List sessions (a member sees their own, a coach theirs)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "create" -d 'Put a member into a session (a coach proposes, an admin schedules)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Accept a proposed session (the member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "decline" -d 'Decline a proposed session (the member); its seat is free again'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "reschedule" -d 'Move a session to another time, atomically (the member, the coach, an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "complete" -d 'Mark a session that took place as completed (the coach, an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "note" -d 'Add a note to a session (--private: the coach\'s own)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "rate" -d 'Rate a completed session, once (its member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "remind" -d 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one session'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel a scheduled session; its slot is free again at once'
complete -c coachctl -n "__fish_coachctl_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -f -a "list" -d 'List the outbox, oldest first (admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -f -a "send" -d 'Deliver every due message over SMTP (admin; what cron runs)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -f -a "retry" -d 'Queue failed messages again (admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and not __fish_seen_subcommand_from list send retry help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l status -d 'Only messages in this state' -r -f -a "queued\t''
sent\t''
failed\t''
skipped\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l limit -d 'At most this many rows (stderr says when there are more)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l smtp-url -d 'SMTP server: smtp://host:port, smtp://host:port?tls=required (STARTTLS), smtps://user:pass@host (implicit TLS)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l from -d 'The sender address' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l smtp-ca -d 'A PEM file of the CA that signed the SMTP server\'s certificate (a private relay), trusted besides the public roots' -r -F
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l batch -d 'Messages claimed at a time' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l max-attempts -d 'Attempts before a message stays failed' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l lease -d 'How long a claimed message is this sender\'s before another may take it: 30s, 5m, 1h. Renewed right before each message is handed over; keep it well above the server\'s time per message' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -s q -l quiet -d 'Print only errors (a message that failed for good is one)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from send" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l all-failed -d 'Every failed message'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the outbox, oldest first (admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "send" -d 'Deliver every due message over SMTP (admin; what cron runs)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "retry" -d 'Queue failed messages again (admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -f -a "create" -d 'Create a named admin (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -f -a "list" -d 'List admins (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -f -a "remove" -d 'Remove an admin: they can no longer act; the audit trail stays (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and not __fish_seen_subcommand_from create list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l email -d 'The admin\'s email address (unique)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l name -d 'The admin\'s display name' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l timezone -d 'The admin\'s IANA time zone, for times shown to them' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l all -d 'Include removed admins'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a named admin (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "list" -d 'List admins (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove an admin: they can no longer act; the audit trail stays (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List changes, last committed first (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l entity -d 'Only this kind of entity: coach, member, ...' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l id -d 'Only changes to this id (or its first 8+ hex digits)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l action -d 'Only this action, e.g. member.assign' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l limit -d 'At most this many entries (stderr says when there are more)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l after -d 'Start after this entry: the id of the last (oldest) one shown' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "list" -d 'List changes, last committed first (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l smtp-url -d 'The SMTP server to check (as `notify send` uses it)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l dir -d 'Write the scripts for every shell into this directory instead' -r -F
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand man" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand demo" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l dry-run -d 'Print what would be created or changed, and write nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l update -d 'Change coaches, members, windows and blocks that exist but differ from the file'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand seed" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -f -a "send" -d 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -f -a "accept" -d 'Accept an invitation: creates the member if needed and the connection'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -f -a "decline" -d 'Decline an invitation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -f -a "revoke" -d 'Withdraw a pending invitation (its coach or an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -f -a "list" -d 'List invitations: a coach\'s own, a member\'s received, all for admins'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and not __fish_seen_subcommand_from send accept decline revoke list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l email -d 'Invite this email address (a new or existing member)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l user -d 'Invite this existing member (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l coach -d 'The inviting coach (admins only; a coach invites as themself)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l message -d 'A personal message for the invitee' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l assign -d 'Accepting also assigns the member to the coach, within capacity'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from send" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l name -d 'Your name, when the invitation creates your account (default: the email\'s local part)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from accept" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from decline" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from help" -f -a "send" -d 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Accept an invitation: creates the member if needed and the connection'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from help" -f -a "decline" -d 'Decline an invitation'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Withdraw a pending invitation (its coach or an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from help" -f -a "list" -d 'List invitations: a coach\'s own, a member\'s received, all for admins'
complete -c coachctl -n "__fish_coachctl_using_subcommand invite; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -f -a "request" -d 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -f -a "respond" -d 'Accept or decline a request (the side that was asked)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -f -a "list" -d 'List your connections (all for admins)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -f -a "search" -d 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -f -a "remove" -d 'End a connection (either side); scheduled sessions stay'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and not __fish_seen_subcommand_from request respond list search remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l coach -d 'The coach to connect with (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l member -d 'The member to connect with (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l area -d 'The expertise area the connection is about' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l message -d 'A message for the other side' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from request" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l accept -d 'Accept the request'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l decline -d 'Decline the request'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from respond" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l name -d 'Part of the name' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l area -d 'Part of the expertise area (a coach\'s specialization, a member\'s goals)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from search" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "request" -d 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "respond" -d 'Accept or decline a request (the side that was asked)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "list" -d 'List your connections (all for admins)'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "search" -d 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "remove" -d 'End a connection (either side); scheduled sessions stay'
complete -c coachctl -n "__fish_coachctl_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -f -a "send" -d 'Send a message to your coach or member (participants only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -f -a "list" -d 'List your messages, unread first; listing marks them read'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and not __fish_seen_subcommand_from send list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l to -d 'The recipient (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l text -d 'The message' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from send" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l with -d 'Only the conversation with this person (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l unread -d 'Print only the number of unread messages (for scripts); marks nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "send" -d 'Send a message to your coach or member (participants only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "list" -d 'List your messages, unread first; listing marks them read'
complete -c coachctl -n "__fish_coachctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "create" -d 'Create a program (a coach\'s own; an admin\'s for --coach, or a template for all)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "list" -d 'List programs (a coach sees their own and the admins\' templates)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "show" -d 'Show a program, or an enrolment with its progress'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "update" -d 'Change a program (its coach, an admin); enrolments keep their series'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "archive" -d 'Archive a program: no new assignments; enrolments run on'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "assign" -d 'Assign a program to a member: every session of the series, or none'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "accept" -d 'Accept a proposed series as a whole (the member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "decline" -d 'Decline a proposed series as a whole (the member); its seats are free again'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "adjust" -d 'Move the rest of a series to new weekly times, or extend it (all or nothing)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "cancel" -d 'Cancel every remaining session of a series; completed ones stay'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and not __fish_seen_subcommand_from create list show update archive assign accept decline adjust cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l name -d 'What it is called' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l weeks -d 'How many weeks it runs (1-104)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l per-week -d 'Sessions a week (default 1)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l length -d 'Minutes a session (default 60)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l description -d 'What the member can expect' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l difficulty -d 'beginner, intermediate or advanced' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l goal -d 'A goal of the program (repeatable)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l coach -d 'The coach it belongs to (admins; a coach creates their own)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l template -d 'A template: an admin\'s for every coach, a coach\'s for themself'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l coach -d 'Only this coach\'s programs (and the templates for all)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l member -d 'With --enrolments: only this member\'s' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l templates -d 'Only templates'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l archived -d 'Archived programs too'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l enrolments -d 'List enrolments (assigned programs) instead'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l name -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l weeks -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l per-week -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l length -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l description -d 'Empty text clears it' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l difficulty -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l goal -d 'Replace the goals (repeatable)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l template -d 'Make it a template (true) or not (false)' -r -f -a "true\t''
false\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from archive" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l member -d 'The member (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l start -d 'The first day of the series (the coach\'s zone): YYYY-MM-DD, today, mon..sun, +3d' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l at -d 'A weekly time in the coach\'s zone, e.g. \'wed 09:00\' (once per session a week)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l coach -d 'The coach who runs an admins\' template (admins)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l dry-run -d 'Show the series and its conflicts; book nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from assign" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from accept" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from decline" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l from -d 'Move the sessions from this day on (the coach\'s zone)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l at -d 'The new weekly time(s), e.g. \'thu 10:00\'' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l extend -d 'Add this many weeks at the current times' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from adjust" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a program (a coach\'s own; an admin\'s for --coach, or a template for all)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "list" -d 'List programs (a coach sees their own and the admins\' templates)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a program, or an enrolment with its progress'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a program (its coach, an admin); enrolments keep their series'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "archive" -d 'Archive a program: no new assignments; enrolments run on'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "assign" -d 'Assign a program to a member: every session of the series, or none'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Accept a proposed series as a whole (the member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "decline" -d 'Decline a proposed series as a whole (the member); its seats are free again'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "adjust" -d 'Move the rest of a series to new weekly times, or extend it (all or nothing)'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel every remaining session of a series; completed ones stay'
complete -c coachctl -n "__fish_coachctl_using_subcommand program; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -f -a "add" -d 'Give a member an insight (their coach); the member gets a notice'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -f -a "list" -d 'List insights (the pair\'s own; unread first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -f -a "ack" -d 'Acknowledge an insight (its member), optionally with an answer for the coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and not __fish_seen_subcommand_from add list ack help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l member -d 'The member (email or id)' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l type -d 'recommendation, observation, goal-update or program-adjustment' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l title -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l text -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l priority -d 'low, medium (default) or high' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l program -d 'The enrolment it is about' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l member -d 'Only this member\'s' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l unread -d 'Only those not yet acknowledged'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l response -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from ack" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from help" -f -a "add" -d 'Give a member an insight (their coach); the member gets a notice'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from help" -f -a "list" -d 'List insights (the pair\'s own; unread first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from help" -f -a "ack" -d 'Acknowledge an insight (its member), optionally with an answer for the coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand insight; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -l database-url -d 'PostgreSQL URL to use instead of the embedded database' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -l profile -d 'Use the database of this profile of the config file ([profiles.NAME])' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -l as -d 'Act as this user (email or id); without it, the operator acts as admin' -r
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: table (wide: every column) for people, json/csv/ids for scripts' -r -f -a "table\t'A table that fits the terminal (80 columns when its width is unknown)'
wide\t'A table with every column and whole ids, as wide as it needs'
json\t'One JSON document: an object, or an array for lists'
csv\t'CSV with a header row'
ids\t'One id per line, for scripts to capture'"
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -l tz -d 'Time zone to show times in (IANA name); default: the actor\'s, else the system\'s' -r -f -a "(__coachctl_zones)"
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -l color -d 'When to use color (NO_COLOR is respected)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to every confirmation'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail instead when something is missing'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked'
complete -c coachctl -n "__fish_coachctl_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "db" -d 'The database: start, stop, status, migrate, reset'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "coach" -d 'Coaches: create, list, show, update, promote, deactivate'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "member" -d 'Members: create (signup), list, show, update, assign, onboarding, privacy'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "availability" -d 'Weekly availability windows and blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "slots" -d 'Open slots of a coach, in the coach\'s time zone'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "book" -d 'Book a slot (atomic: never overbooks)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "session" -d 'Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "notify" -d 'The email outbox: list, send (cron), retry'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "admin" -d 'Named admins: create, list, remove'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "audit" -d 'The audit log: who changed what, when'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "doctor" -d 'Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "completions" -d 'Print a shell completion script'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "man" -d 'Write man pages for every command into a directory'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "demo" -d 'Seed a small realistic organisation and show it'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "seed" -d 'Declare an organisation from a TOML or JSON file: create what is missing (CI)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "invite" -d 'Invitations: send, list, accept, decline, revoke'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "connect" -d 'Connections between coaches and members: request, respond, list, remove'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "message" -d 'Messages between a coach and their members: send, list'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "program" -d 'Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "insight" -d 'Coaching insights from a coach to their member: add, list, ack'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "config" -d 'The config file (~/.config/coachctl/config.toml): show the effective settings'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and not __fish_seen_subcommand_from db coach member availability slots book session notify admin audit doctor completions man demo seed invite connect message program insight config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "up" -d 'Create and start the embedded database if needed, apply migrations (idempotent)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "down" -d 'Stop the embedded database'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "status" -d 'Where the database lives, the server version and the schema version'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "migrate" -d 'Apply pending schema migrations'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "reset" -d 'Drop all coachctl data and recreate the schema (asks first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "backup" -d 'Write a backup of coachctl\'s database (pg_dump\'s custom format) to FILE'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "restore" -d 'Restore a backup made by `db backup` into the embedded database'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "upgrade" -d 'Move the embedded cluster to the installed PostgreSQL version'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "destroy" -d 'Stop the embedded database and remove it with all its data (asks first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "dashboard" -d 'What a coach looks at first: today, this week, members, proposals, activity'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "report" -d 'One row per member and the coach\'s utilisation a week (80 columns; -o json|csv)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "create" -d 'Create a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "list" -d 'List coaches'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "show" -d 'Show a coach\'s profile: member count, free capacity, ratings'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "update" -d 'Change a coach\'s profile (admin, or the coach themself)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "promote" -d 'Make an existing member a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from coach" -f -a "deactivate" -d 'Deactivate a coach: they stop taking members and cannot act (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "create" -d 'Create a member; with --coach this is signup with a coach choice'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "list" -d 'List members (a coach sees their own, a member only themself)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "show" -d 'Show one member'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "update" -d 'Change a member\'s profile; an empty text clears a field'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "assign" -d 'Assign a member to a coach (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "unassign" -d 'Remove a member\'s coach (admin, or that coach)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "onboarding" -d 'Set onboarding status: pending, in_progress or completed'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "dashboard" -d 'What a member looks at first: next session, the next three, their coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "progress" -d 'Attendance, ratings, programs and sessions a week over the last 12 weeks'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "sharing" -d 'What the member\'s coach sees: goals (default on) and health info (default off); without flags, shows the current settings'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "history" -d 'Every assignment, unassignment and connection change, with when and who, and each coach relationship\'s status (pending, active, inactive, terminated); a coach sees only their own period'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "import" -d 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "export" -d 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "privacy" -d 'Set who may find the member: public, connections or private'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "add" -d 'Add a weekly window, in the coach\'s own time zone'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "list" -d 'List weekly windows'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "update" -d 'Change a window; refused while booked sessions would fall outside'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "remove" -d 'Remove a window; refused while it has booked future sessions'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "block" -d 'Block a date or a range of dates (time off)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "unblock" -d 'Remove blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from availability" -f -a "blocks" -d 'List blocked dates'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "list" -d 'List sessions (a member sees their own, a coach theirs)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "create" -d 'Put a member into a session (a coach proposes, an admin schedules)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "accept" -d 'Accept a proposed session (the member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "decline" -d 'Decline a proposed session (the member); its seat is free again'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "reschedule" -d 'Move a session to another time, atomically (the member, the coach, an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "complete" -d 'Mark a session that took place as completed (the coach, an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "note" -d 'Add a note to a session (--private: the coach\'s own)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "rate" -d 'Rate a completed session, once (its member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "export" -d 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "remind" -d 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "show" -d 'Show one session'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "cancel" -d 'Cancel a scheduled session; its slot is free again at once'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "list" -d 'List the outbox, oldest first (admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "send" -d 'Deliver every due message over SMTP (admin; what cron runs)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "retry" -d 'Queue failed messages again (admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "create" -d 'Create a named admin (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "list" -d 'List admins (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "remove" -d 'Remove an admin: they can no longer act; the audit trail stays (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "list" -d 'List changes, last committed first (admin only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from invite" -f -a "send" -d 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from invite" -f -a "accept" -d 'Accept an invitation: creates the member if needed and the connection'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from invite" -f -a "decline" -d 'Decline an invitation'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from invite" -f -a "revoke" -d 'Withdraw a pending invitation (its coach or an admin)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from invite" -f -a "list" -d 'List invitations: a coach\'s own, a member\'s received, all for admins'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "request" -d 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "respond" -d 'Accept or decline a request (the side that was asked)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "list" -d 'List your connections (all for admins)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "search" -d 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "remove" -d 'End a connection (either side); scheduled sessions stay'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "send" -d 'Send a message to your coach or member (participants only)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "list" -d 'List your messages, unread first; listing marks them read'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "create" -d 'Create a program (a coach\'s own; an admin\'s for --coach, or a template for all)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "list" -d 'List programs (a coach sees their own and the admins\' templates)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "show" -d 'Show a program, or an enrolment with its progress'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "update" -d 'Change a program (its coach, an admin); enrolments keep their series'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "archive" -d 'Archive a program: no new assignments; enrolments run on'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "assign" -d 'Assign a program to a member: every session of the series, or none'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "accept" -d 'Accept a proposed series as a whole (the member)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "decline" -d 'Decline a proposed series as a whole (the member); its seats are free again'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "adjust" -d 'Move the rest of a series to new weekly times, or extend it (all or nothing)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from program" -f -a "cancel" -d 'Cancel every remaining session of a series; completed ones stay'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from insight" -f -a "add" -d 'Give a member an insight (their coach); the member gets a notice'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from insight" -f -a "list" -d 'List insights (the pair\'s own; unread first)'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from insight" -f -a "ack" -d 'Acknowledge an insight (its member), optionally with an answer for the coach'
complete -c coachctl -n "__fish_coachctl_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked'
