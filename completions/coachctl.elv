
use builtin;
use str;

set edit:completion:arg-completer[coachctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'coachctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'coachctl'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand db 'The database: start, stop, status, migrate, reset'
            cand coach 'Coaches: create, list, show, update, promote, deactivate'
            cand member 'Members: create (signup), list, show, update, assign, onboarding, privacy'
            cand availability 'Weekly availability windows and blocked dates'
            cand slots 'Open slots of a coach, in the coach''s time zone'
            cand book 'Book a slot (atomic: never overbooks)'
            cand session 'Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind'
            cand notify 'The email outbox: list, send (cron), retry'
            cand admin 'Named admins: create, list, remove'
            cand audit 'The audit log: who changed what, when'
            cand doctor 'Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock'
            cand completions 'Print a shell completion script'
            cand man 'Write man pages for every command into a directory'
            cand demo 'Seed a small realistic organisation and show it'
            cand seed 'Declare an organisation from a TOML or JSON file: create what is missing (CI)'
            cand invite 'Invitations: send, list, accept, decline, revoke'
            cand connect 'Connections between coaches and members: request, respond, list, remove'
            cand message 'Messages between a coach and their members: send, list'
            cand program 'Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel'
            cand insight 'Coaching insights from a coach to their member: add, list, ack'
            cand config 'The config file (~/.config/coachctl/config.toml): show the effective settings'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;db'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand up 'Create and start the embedded database if needed, apply migrations (idempotent)'
            cand down 'Stop the embedded database'
            cand status 'Where the database lives, the server version and the schema version'
            cand migrate 'Apply pending schema migrations'
            cand reset 'Drop all coachctl data and recreate the schema (asks first)'
            cand backup 'Write a backup of coachctl''s database (pg_dump''s custom format) to FILE'
            cand restore 'Restore a backup made by `db backup` into the embedded database'
            cand upgrade 'Move the embedded cluster to the installed PostgreSQL version'
            cand destroy 'Stop the embedded database and remove it with all its data (asks first)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;db;up'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;down'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;status'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;migrate'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;reset'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;backup'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;restore'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;upgrade'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;destroy'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;db;help'= {
            cand up 'Create and start the embedded database if needed, apply migrations (idempotent)'
            cand down 'Stop the embedded database'
            cand status 'Where the database lives, the server version and the schema version'
            cand migrate 'Apply pending schema migrations'
            cand reset 'Drop all coachctl data and recreate the schema (asks first)'
            cand backup 'Write a backup of coachctl''s database (pg_dump''s custom format) to FILE'
            cand restore 'Restore a backup made by `db backup` into the embedded database'
            cand upgrade 'Move the embedded cluster to the installed PostgreSQL version'
            cand destroy 'Stop the embedded database and remove it with all its data (asks first)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;db;help;up'= {
        }
        &'coachctl;db;help;down'= {
        }
        &'coachctl;db;help;status'= {
        }
        &'coachctl;db;help;migrate'= {
        }
        &'coachctl;db;help;reset'= {
        }
        &'coachctl;db;help;backup'= {
        }
        &'coachctl;db;help;restore'= {
        }
        &'coachctl;db;help;upgrade'= {
        }
        &'coachctl;db;help;destroy'= {
        }
        &'coachctl;db;help;help'= {
        }
        &'coachctl;coach'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand dashboard 'What a coach looks at first: today, this week, members, proposals, activity'
            cand report 'One row per member and the coach''s utilisation a week (80 columns; -o json|csv)'
            cand create 'Create a coach (admin only)'
            cand list 'List coaches'
            cand show 'Show a coach''s profile: member count, free capacity, ratings'
            cand update 'Change a coach''s profile (admin, or the coach themself)'
            cand promote 'Make an existing member a coach (admin only)'
            cand deactivate 'Deactivate a coach: they stop taking members and cannot act (admin only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;coach;dashboard'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;report'= {
            cand --from 'From this day''s week (default: 12 weeks before --to)'
            cand --to 'Up to this day (default: today)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;create'= {
            cand --email 'The coach''s email address (unique)'
            cand --name 'The coach''s display name'
            cand --timezone 'The coach''s IANA time zone; availability is read in it'
            cand --specialization 'Specialization, e.g. "strength training"'
            cand --bio 'A short biography'
            cand --certifications 'Certifications, free text'
            cand --max-members 'Most active members the coach takes (default 20)'
            cand --min-notice 'Minimum notice for a booking, in minutes (default 0)'
            cand --horizon 'Take bookings at most this many days ahead'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --accepting 'Accept new members (the default for a new coach)'
            cand --not-accepting 'Stop accepting new members; hides the coach from signup'
            cand --no-horizon 'Take bookings any time ahead (the default)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;list'= {
            cand --limit 'At most this many coaches'
            cand --after 'Start after this coach: the email or id of the last one shown (coaches are ordered by email)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --accepting 'Only coaches accepting members (the signup choice)'
            cand --all 'Include deactivated coaches'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;show'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;update'= {
            cand --name 'New display name'
            cand --timezone 'New IANA time zone'
            cand --specialization 'Specialization, e.g. "strength training"'
            cand --bio 'A short biography'
            cand --certifications 'Certifications, free text'
            cand --max-members 'Most active members the coach takes (default 20)'
            cand --min-notice 'Minimum notice for a booking, in minutes (default 0)'
            cand --horizon 'Take bookings at most this many days ahead'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --accepting 'Accept new members (the default for a new coach)'
            cand --not-accepting 'Stop accepting new members; hides the coach from signup'
            cand --no-horizon 'Take bookings any time ahead (the default)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;promote'= {
            cand --specialization 'Specialization, e.g. "strength training"'
            cand --bio 'A short biography'
            cand --certifications 'Certifications, free text'
            cand --max-members 'Most active members the coach takes (default 20)'
            cand --min-notice 'Minimum notice for a booking, in minutes (default 0)'
            cand --horizon 'Take bookings at most this many days ahead'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --accepting 'Accept new members (the default for a new coach)'
            cand --not-accepting 'Stop accepting new members; hides the coach from signup'
            cand --no-horizon 'Take bookings any time ahead (the default)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;deactivate'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;coach;help'= {
            cand dashboard 'What a coach looks at first: today, this week, members, proposals, activity'
            cand report 'One row per member and the coach''s utilisation a week (80 columns; -o json|csv)'
            cand create 'Create a coach (admin only)'
            cand list 'List coaches'
            cand show 'Show a coach''s profile: member count, free capacity, ratings'
            cand update 'Change a coach''s profile (admin, or the coach themself)'
            cand promote 'Make an existing member a coach (admin only)'
            cand deactivate 'Deactivate a coach: they stop taking members and cannot act (admin only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;coach;help;dashboard'= {
        }
        &'coachctl;coach;help;report'= {
        }
        &'coachctl;coach;help;create'= {
        }
        &'coachctl;coach;help;list'= {
        }
        &'coachctl;coach;help;show'= {
        }
        &'coachctl;coach;help;update'= {
        }
        &'coachctl;coach;help;promote'= {
        }
        &'coachctl;coach;help;deactivate'= {
        }
        &'coachctl;coach;help;help'= {
        }
        &'coachctl;member'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a member; with --coach this is signup with a coach choice'
            cand list 'List members (a coach sees their own, a member only themself)'
            cand show 'Show one member'
            cand update 'Change a member''s profile; an empty text clears a field'
            cand assign 'Assign a member to a coach (admin only)'
            cand unassign 'Remove a member''s coach (admin, or that coach)'
            cand onboarding 'Set onboarding status: pending, in_progress or completed'
            cand dashboard 'What a member looks at first: next session, the next three, their coach'
            cand progress 'Attendance, ratings, programs and sessions a week over the last 12 weeks'
            cand sharing 'What the member''s coach sees: goals (default on) and health info (default off); without flags, shows the current settings'
            cand history 'Every assignment, unassignment and connection change, with when and who, and each coach relationship''s status (pending, active, inactive, terminated); a coach sees only their own period'
            cand import 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing'
            cand export 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members'
            cand privacy 'Set who may find the member: public, connections or private'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;member;create'= {
            cand --email 'The member''s email address (unique)'
            cand --name 'The member''s display name'
            cand --timezone 'The member''s IANA time zone'
            cand --coach 'Assign this coach (email or id); refused if full or not accepting'
            cand --goals 'The member''s goals'
            cand --health-info 'Health information the coach should know'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;list'= {
            cand --coach 'Only members of this coach (email or id)'
            cand --status 'Only members with this membership status'
            cand --limit 'At most this many members'
            cand --after 'Start after this member: the email or id of the last one shown (members are ordered by email)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --unassigned 'Only members without a coach'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;show'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;update'= {
            cand --name 'New display name'
            cand --timezone 'New IANA time zone'
            cand --goals 'Goals'
            cand --health-info 'Health information'
            cand --coach-notes 'Coach-private notes (coach and admins only)'
            cand --status 'Membership status: active, inactive or paused'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;assign'= {
            cand --coach 'The coach''s email or id'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;unassign'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;onboarding'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;dashboard'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;progress'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;sharing'= {
            cand --goals 'Share goals with the coach'
            cand --health-info 'Share health information with the coach'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;history'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;import'= {
            cand --coach 'Assign every member of the file to this coach (email, id or id prefix)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --update 'Change existing members whose row differs (else such rows are errors)'
            cand --dry-run 'Check the file and print what would change; write nothing'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;export'= {
            cand --coach 'Only the members of this coach (email, id or id prefix)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;privacy'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;member;help'= {
            cand create 'Create a member; with --coach this is signup with a coach choice'
            cand list 'List members (a coach sees their own, a member only themself)'
            cand show 'Show one member'
            cand update 'Change a member''s profile; an empty text clears a field'
            cand assign 'Assign a member to a coach (admin only)'
            cand unassign 'Remove a member''s coach (admin, or that coach)'
            cand onboarding 'Set onboarding status: pending, in_progress or completed'
            cand dashboard 'What a member looks at first: next session, the next three, their coach'
            cand progress 'Attendance, ratings, programs and sessions a week over the last 12 weeks'
            cand sharing 'What the member''s coach sees: goals (default on) and health info (default off); without flags, shows the current settings'
            cand history 'Every assignment, unassignment and connection change, with when and who, and each coach relationship''s status (pending, active, inactive, terminated); a coach sees only their own period'
            cand import 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing'
            cand export 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members'
            cand privacy 'Set who may find the member: public, connections or private'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;member;help;create'= {
        }
        &'coachctl;member;help;list'= {
        }
        &'coachctl;member;help;show'= {
        }
        &'coachctl;member;help;update'= {
        }
        &'coachctl;member;help;assign'= {
        }
        &'coachctl;member;help;unassign'= {
        }
        &'coachctl;member;help;onboarding'= {
        }
        &'coachctl;member;help;dashboard'= {
        }
        &'coachctl;member;help;progress'= {
        }
        &'coachctl;member;help;sharing'= {
        }
        &'coachctl;member;help;history'= {
        }
        &'coachctl;member;help;import'= {
        }
        &'coachctl;member;help;export'= {
        }
        &'coachctl;member;help;privacy'= {
        }
        &'coachctl;member;help;help'= {
        }
        &'coachctl;availability'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Add a weekly window, in the coach''s own time zone'
            cand list 'List weekly windows'
            cand update 'Change a window; refused while booked sessions would fall outside'
            cand remove 'Remove a window; refused while it has booked future sessions'
            cand block 'Block a date or a range of dates (time off)'
            cand unblock 'Remove blocked dates'
            cand blocks 'List blocked dates'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;availability;add'= {
            cand --coach 'The coach (email or id); a coach acting may leave it out'
            cand --day 'Day of week: sun..sat, a full name, or 0-6 (Sunday = 0)'
            cand --start 'Start, HH:MM'
            cand --end 'End, HH:MM (after the start)'
            cand --length 'Session length in minutes'
            cand --buffer 'Minutes kept free before and after each session'
            cand --capacity 'Sessions per slot (max_sessions_per_slot)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;list'= {
            cand --coach 'Only this coach''s windows (email or id)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;update'= {
            cand --day 'New day of week'
            cand --start 'New start, HH:MM'
            cand --end 'New end, HH:MM'
            cand --length 'New session length in minutes'
            cand --buffer 'New buffer in minutes'
            cand --capacity 'New sessions per slot'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;remove'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;block'= {
            cand --coach 'The coach (email or id); a coach acting may leave it out'
            cand --date 'The first blocked date in the coach''s zone: YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d'
            cand --to 'The last blocked date (default: the same day)'
            cand --reason 'Why, for the record'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;unblock'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;blocks'= {
            cand --coach 'Only this coach''s blocks'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;availability;help'= {
            cand add 'Add a weekly window, in the coach''s own time zone'
            cand list 'List weekly windows'
            cand update 'Change a window; refused while booked sessions would fall outside'
            cand remove 'Remove a window; refused while it has booked future sessions'
            cand block 'Block a date or a range of dates (time off)'
            cand unblock 'Remove blocked dates'
            cand blocks 'List blocked dates'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;availability;help;add'= {
        }
        &'coachctl;availability;help;list'= {
        }
        &'coachctl;availability;help;update'= {
        }
        &'coachctl;availability;help;remove'= {
        }
        &'coachctl;availability;help;block'= {
        }
        &'coachctl;availability;help;unblock'= {
        }
        &'coachctl;availability;help;blocks'= {
        }
        &'coachctl;availability;help;help'= {
        }
        &'coachctl;slots'= {
            cand --coach 'The coach (email or id)'
            cand --from 'First local date (default: today in the coach''s zone): YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d'
            cand --days 'How many days from --from (default 7)'
            cand --to 'Last local date, inclusive'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --all 'List full slots too, with remaining 0'
            cand --watch 'Keep the view current as others book and cancel (Ctrl-C stops): on a terminal it redraws, otherwise it prints one JSON line per change'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;book'= {
            cand --coach 'The coach (email or id)'
            cand --at 'The slot''s start, e.g. 2027-03-29T09:00, ''tomorrow 9:00'', ''mon 14:30''; without an offset it is read in the coach''s zone. Left out on a terminal: choose from a list, then confirm'
            cand --member 'The member (email or id); a member acting books for themself'
            cand --notes 'Notes for the coach'
            cand --type 'initial, regular or followup (default: initial for a first session with the coach)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List sessions (a member sees their own, a coach theirs)'
            cand create 'Put a member into a session (a coach proposes, an admin schedules)'
            cand accept 'Accept a proposed session (the member)'
            cand decline 'Decline a proposed session (the member); its seat is free again'
            cand reschedule 'Move a session to another time, atomically (the member, the coach, an admin)'
            cand complete 'Mark a session that took place as completed (the coach, an admin)'
            cand note 'Add a note to a session (--private: the coach''s own)'
            cand rate 'Rate a completed session, once (its member)'
            cand export 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import'
            cand remind 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)'
            cand show 'Show one session'
            cand cancel 'Cancel a scheduled session; its slot is free again at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;session;list'= {
            cand --from 'From this date or time (inclusive): YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like ''tomorrow 9:00'''
            cand --to 'Until this date (inclusive) or time (exclusive)'
            cand --status 'Only sessions with this status'
            cand --coach 'Only this coach''s sessions'
            cand --member 'Only this member''s sessions'
            cand --limit 'At most this many sessions'
            cand --after 'Start after this session: the id of the last one shown (sessions are ordered by start, then id)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --upcoming 'Only sessions still ahead that hold a seat (proposed or scheduled)'
            cand --all 'Past sessions too (without it, and without --from/--to, only sessions that have not ended are listed)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;create'= {
            cand --member 'The member (email or id)'
            cand --coach 'The coach; a coach acting creates their own sessions'
            cand --at 'The start, e.g. 2027-04-01T15:00, ''tomorrow 9:00'', ''fri 14:30''; without an offset it is read in the coach''s zone'
            cand --length 'Length in minutes (default: the window''s; off the grid 60)'
            cand --type 'initial, regular or followup (default: initial for a first session)'
            cand --notes 'A shared note for the member'
            cand --expires 'Until when a proposal holds its seat, e.g. ''tomorrow 18:00'' (default 48 h, never after the start)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --off-grid 'Outside the coach''s windows (capacity, buffers and blocks still hold)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;accept'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;decline'= {
            cand --reason 'Why, for the coach'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;reschedule'= {
            cand --at 'The new start, e.g. 2027-04-05T09:00 or ''mon 9:00''; without an offset it is read in the coach''s zone'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;complete'= {
            cand --notes 'Coach-private notes'
            cand --outcomes 'What came out of it'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;note'= {
            cand --text 'The note'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --private 'Only the coach and admins read it'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;rate'= {
            cand --rating '1 to 5'
            cand --feedback 'What went well or not'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;export'= {
            cand --coach 'Only this coach''s sessions'
            cand --member 'Only this member''s sessions'
            cand --from 'From this date or time (inclusive): YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like ''tomorrow 9:00'''
            cand --to 'Until this date (inclusive) or time (exclusive)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --ics 'Write iCalendar (the one export format)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;remind'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;show'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;cancel'= {
            cand --reason 'Why, for the record and the other party'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;session;help'= {
            cand list 'List sessions (a member sees their own, a coach theirs)'
            cand create 'Put a member into a session (a coach proposes, an admin schedules)'
            cand accept 'Accept a proposed session (the member)'
            cand decline 'Decline a proposed session (the member); its seat is free again'
            cand reschedule 'Move a session to another time, atomically (the member, the coach, an admin)'
            cand complete 'Mark a session that took place as completed (the coach, an admin)'
            cand note 'Add a note to a session (--private: the coach''s own)'
            cand rate 'Rate a completed session, once (its member)'
            cand export 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import'
            cand remind 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)'
            cand show 'Show one session'
            cand cancel 'Cancel a scheduled session; its slot is free again at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;session;help;list'= {
        }
        &'coachctl;session;help;create'= {
        }
        &'coachctl;session;help;accept'= {
        }
        &'coachctl;session;help;decline'= {
        }
        &'coachctl;session;help;reschedule'= {
        }
        &'coachctl;session;help;complete'= {
        }
        &'coachctl;session;help;note'= {
        }
        &'coachctl;session;help;rate'= {
        }
        &'coachctl;session;help;export'= {
        }
        &'coachctl;session;help;remind'= {
        }
        &'coachctl;session;help;show'= {
        }
        &'coachctl;session;help;cancel'= {
        }
        &'coachctl;session;help;help'= {
        }
        &'coachctl;notify'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the outbox, oldest first (admin)'
            cand send 'Deliver every due message over SMTP (admin; what cron runs)'
            cand retry 'Queue failed messages again (admin)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;notify;list'= {
            cand --status 'Only messages in this state'
            cand --limit 'At most this many rows (stderr says when there are more)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;notify;send'= {
            cand --smtp-url 'SMTP server: smtp://host:port, smtp://host:port?tls=required (STARTTLS), smtps://user:pass@host (implicit TLS)'
            cand --from 'The sender address'
            cand --smtp-ca 'A PEM file of the CA that signed the SMTP server''s certificate (a private relay), trusted besides the public roots'
            cand --batch 'Messages claimed at a time'
            cand --max-attempts 'Attempts before a message stays failed'
            cand --lease 'How long a claimed message is this sender''s before another may take it: 30s, 5m, 1h. Renewed right before each message is handed over; keep it well above the server''s time per message'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -q 'Print only errors (a message that failed for good is one)'
            cand --quiet 'Print only errors (a message that failed for good is one)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;notify;retry'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --all-failed 'Every failed message'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;notify;help'= {
            cand list 'List the outbox, oldest first (admin)'
            cand send 'Deliver every due message over SMTP (admin; what cron runs)'
            cand retry 'Queue failed messages again (admin)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;notify;help;list'= {
        }
        &'coachctl;notify;help;send'= {
        }
        &'coachctl;notify;help;retry'= {
        }
        &'coachctl;notify;help;help'= {
        }
        &'coachctl;admin'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a named admin (admin only)'
            cand list 'List admins (admin only)'
            cand remove 'Remove an admin: they can no longer act; the audit trail stays (admin only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;admin;create'= {
            cand --email 'The admin''s email address (unique)'
            cand --name 'The admin''s display name'
            cand --timezone 'The admin''s IANA time zone, for times shown to them'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;admin;list'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --all 'Include removed admins'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;admin;remove'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;admin;help'= {
            cand create 'Create a named admin (admin only)'
            cand list 'List admins (admin only)'
            cand remove 'Remove an admin: they can no longer act; the audit trail stays (admin only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;admin;help;create'= {
        }
        &'coachctl;admin;help;list'= {
        }
        &'coachctl;admin;help;remove'= {
        }
        &'coachctl;admin;help;help'= {
        }
        &'coachctl;audit'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List changes, last committed first (admin only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;audit;list'= {
            cand --entity 'Only this kind of entity: coach, member, ...'
            cand --id 'Only changes to this id (or its first 8+ hex digits)'
            cand --action 'Only this action, e.g. member.assign'
            cand --limit 'At most this many entries (stderr says when there are more)'
            cand --after 'Start after this entry: the id of the last (oldest) one shown'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;audit;help'= {
            cand list 'List changes, last committed first (admin only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;audit;help;list'= {
        }
        &'coachctl;audit;help;help'= {
        }
        &'coachctl;doctor'= {
            cand --smtp-url 'The SMTP server to check (as `notify send` uses it)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;completions'= {
            cand --dir 'Write the scripts for every shell into this directory instead'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;man'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;demo'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;seed'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --dry-run 'Print what would be created or changed, and write nothing'
            cand --update 'Change coaches, members, windows and blocks that exist but differ from the file'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;invite'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand send 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours'
            cand accept 'Accept an invitation: creates the member if needed and the connection'
            cand decline 'Decline an invitation'
            cand revoke 'Withdraw a pending invitation (its coach or an admin)'
            cand list 'List invitations: a coach''s own, a member''s received, all for admins'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;invite;send'= {
            cand --email 'Invite this email address (a new or existing member)'
            cand --user 'Invite this existing member (email or id)'
            cand --coach 'The inviting coach (admins only; a coach invites as themself)'
            cand --message 'A personal message for the invitee'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --assign 'Accepting also assigns the member to the coach, within capacity'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;invite;accept'= {
            cand --name 'Your name, when the invitation creates your account (default: the email''s local part)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;invite;decline'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;invite;revoke'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;invite;list'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;invite;help'= {
            cand send 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours'
            cand accept 'Accept an invitation: creates the member if needed and the connection'
            cand decline 'Decline an invitation'
            cand revoke 'Withdraw a pending invitation (its coach or an admin)'
            cand list 'List invitations: a coach''s own, a member''s received, all for admins'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;invite;help;send'= {
        }
        &'coachctl;invite;help;accept'= {
        }
        &'coachctl;invite;help;decline'= {
        }
        &'coachctl;invite;help;revoke'= {
        }
        &'coachctl;invite;help;list'= {
        }
        &'coachctl;invite;help;help'= {
        }
        &'coachctl;connect'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand request 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days'
            cand respond 'Accept or decline a request (the side that was asked)'
            cand list 'List your connections (all for admins)'
            cand search 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members'
            cand remove 'End a connection (either side); scheduled sessions stay'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;connect;request'= {
            cand --coach 'The coach to connect with (email or id)'
            cand --member 'The member to connect with (email or id)'
            cand --area 'The expertise area the connection is about'
            cand --message 'A message for the other side'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;connect;respond'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --accept 'Accept the request'
            cand --decline 'Decline the request'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;connect;list'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;connect;search'= {
            cand --name 'Part of the name'
            cand --area 'Part of the expertise area (a coach''s specialization, a member''s goals)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;connect;remove'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;connect;help'= {
            cand request 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days'
            cand respond 'Accept or decline a request (the side that was asked)'
            cand list 'List your connections (all for admins)'
            cand search 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members'
            cand remove 'End a connection (either side); scheduled sessions stay'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;connect;help;request'= {
        }
        &'coachctl;connect;help;respond'= {
        }
        &'coachctl;connect;help;list'= {
        }
        &'coachctl;connect;help;search'= {
        }
        &'coachctl;connect;help;remove'= {
        }
        &'coachctl;connect;help;help'= {
        }
        &'coachctl;message'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand send 'Send a message to your coach or member (participants only)'
            cand list 'List your messages, unread first; listing marks them read'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;message;send'= {
            cand --to 'The recipient (email or id)'
            cand --text 'The message'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;message;list'= {
            cand --with 'Only the conversation with this person (email or id)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --unread 'Print only the number of unread messages (for scripts); marks nothing'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;message;help'= {
            cand send 'Send a message to your coach or member (participants only)'
            cand list 'List your messages, unread first; listing marks them read'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;message;help;send'= {
        }
        &'coachctl;message;help;list'= {
        }
        &'coachctl;message;help;help'= {
        }
        &'coachctl;program'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a program (a coach''s own; an admin''s for --coach, or a template for all)'
            cand list 'List programs (a coach sees their own and the admins'' templates)'
            cand show 'Show a program, or an enrolment with its progress'
            cand update 'Change a program (its coach, an admin); enrolments keep their series'
            cand archive 'Archive a program: no new assignments; enrolments run on'
            cand assign 'Assign a program to a member: every session of the series, or none'
            cand accept 'Accept a proposed series as a whole (the member)'
            cand decline 'Decline a proposed series as a whole (the member); its seats are free again'
            cand adjust 'Move the rest of a series to new weekly times, or extend it (all or nothing)'
            cand cancel 'Cancel every remaining session of a series; completed ones stay'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;program;create'= {
            cand --name 'What it is called'
            cand --weeks 'How many weeks it runs (1-104)'
            cand --per-week 'Sessions a week (default 1)'
            cand --length 'Minutes a session (default 60)'
            cand --description 'What the member can expect'
            cand --difficulty 'beginner, intermediate or advanced'
            cand --goal 'A goal of the program (repeatable)'
            cand --coach 'The coach it belongs to (admins; a coach creates their own)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --template 'A template: an admin''s for every coach, a coach''s for themself'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;list'= {
            cand --coach 'Only this coach''s programs (and the templates for all)'
            cand --member 'With --enrolments: only this member''s'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --templates 'Only templates'
            cand --archived 'Archived programs too'
            cand --enrolments 'List enrolments (assigned programs) instead'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;show'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;update'= {
            cand --name 'name'
            cand --weeks 'weeks'
            cand --per-week 'per-week'
            cand --length 'length'
            cand --description 'Empty text clears it'
            cand --difficulty 'difficulty'
            cand --goal 'Replace the goals (repeatable)'
            cand --template 'Make it a template (true) or not (false)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;archive'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;assign'= {
            cand --member 'The member (email or id)'
            cand --start 'The first day of the series (the coach''s zone): YYYY-MM-DD, today, mon..sun, +3d'
            cand --at 'A weekly time in the coach''s zone, e.g. ''wed 09:00'' (once per session a week)'
            cand --coach 'The coach who runs an admins'' template (admins)'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --dry-run 'Show the series and its conflicts; book nothing'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;accept'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;decline'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;adjust'= {
            cand --from 'Move the sessions from this day on (the coach''s zone)'
            cand --at 'The new weekly time(s), e.g. ''thu 10:00'''
            cand --extend 'Add this many weeks at the current times'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;cancel'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;program;help'= {
            cand create 'Create a program (a coach''s own; an admin''s for --coach, or a template for all)'
            cand list 'List programs (a coach sees their own and the admins'' templates)'
            cand show 'Show a program, or an enrolment with its progress'
            cand update 'Change a program (its coach, an admin); enrolments keep their series'
            cand archive 'Archive a program: no new assignments; enrolments run on'
            cand assign 'Assign a program to a member: every session of the series, or none'
            cand accept 'Accept a proposed series as a whole (the member)'
            cand decline 'Decline a proposed series as a whole (the member); its seats are free again'
            cand adjust 'Move the rest of a series to new weekly times, or extend it (all or nothing)'
            cand cancel 'Cancel every remaining session of a series; completed ones stay'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;program;help;create'= {
        }
        &'coachctl;program;help;list'= {
        }
        &'coachctl;program;help;show'= {
        }
        &'coachctl;program;help;update'= {
        }
        &'coachctl;program;help;archive'= {
        }
        &'coachctl;program;help;assign'= {
        }
        &'coachctl;program;help;accept'= {
        }
        &'coachctl;program;help;decline'= {
        }
        &'coachctl;program;help;adjust'= {
        }
        &'coachctl;program;help;cancel'= {
        }
        &'coachctl;program;help;help'= {
        }
        &'coachctl;insight'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Give a member an insight (their coach); the member gets a notice'
            cand list 'List insights (the pair''s own; unread first)'
            cand ack 'Acknowledge an insight (its member), optionally with an answer for the coach'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;insight;add'= {
            cand --member 'The member (email or id)'
            cand --type 'recommendation, observation, goal-update or program-adjustment'
            cand --title 'title'
            cand --text 'text'
            cand --priority 'low, medium (default) or high'
            cand --program 'The enrolment it is about'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;insight;list'= {
            cand --member 'Only this member''s'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand --unread 'Only those not yet acknowledged'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;insight;ack'= {
            cand --response 'response'
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;insight;help'= {
            cand add 'Give a member an insight (their coach); the member gets a notice'
            cand list 'List insights (the pair''s own; unread first)'
            cand ack 'Acknowledge an insight (its member), optionally with an answer for the coach'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;insight;help;add'= {
        }
        &'coachctl;insight;help;list'= {
        }
        &'coachctl;insight;help;ack'= {
        }
        &'coachctl;insight;help;help'= {
        }
        &'coachctl;config'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;config;show'= {
            cand --database-url 'PostgreSQL URL to use instead of the embedded database'
            cand --profile 'Use the database of this profile of the config file ([profiles.NAME])'
            cand --as 'Act as this user (email or id); without it, the operator acts as admin'
            cand -o 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --output 'Output format: table (wide: every column) for people, json/csv/ids for scripts'
            cand --tz 'Time zone to show times in (IANA name); default: the actor''s, else the system''s'
            cand --color 'When to use color (NO_COLOR is respected)'
            cand -y 'Answer yes to every confirmation'
            cand --yes 'Answer yes to every confirmation'
            cand --no-input 'Never prompt; fail instead when something is missing'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'coachctl;config;help'= {
            cand show 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;config;help;show'= {
        }
        &'coachctl;config;help;help'= {
        }
        &'coachctl;help'= {
            cand db 'The database: start, stop, status, migrate, reset'
            cand coach 'Coaches: create, list, show, update, promote, deactivate'
            cand member 'Members: create (signup), list, show, update, assign, onboarding, privacy'
            cand availability 'Weekly availability windows and blocked dates'
            cand slots 'Open slots of a coach, in the coach''s time zone'
            cand book 'Book a slot (atomic: never overbooks)'
            cand session 'Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind'
            cand notify 'The email outbox: list, send (cron), retry'
            cand admin 'Named admins: create, list, remove'
            cand audit 'The audit log: who changed what, when'
            cand doctor 'Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock'
            cand completions 'Print a shell completion script'
            cand man 'Write man pages for every command into a directory'
            cand demo 'Seed a small realistic organisation and show it'
            cand seed 'Declare an organisation from a TOML or JSON file: create what is missing (CI)'
            cand invite 'Invitations: send, list, accept, decline, revoke'
            cand connect 'Connections between coaches and members: request, respond, list, remove'
            cand message 'Messages between a coach and their members: send, list'
            cand program 'Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel'
            cand insight 'Coaching insights from a coach to their member: add, list, ack'
            cand config 'The config file (~/.config/coachctl/config.toml): show the effective settings'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'coachctl;help;db'= {
            cand up 'Create and start the embedded database if needed, apply migrations (idempotent)'
            cand down 'Stop the embedded database'
            cand status 'Where the database lives, the server version and the schema version'
            cand migrate 'Apply pending schema migrations'
            cand reset 'Drop all coachctl data and recreate the schema (asks first)'
            cand backup 'Write a backup of coachctl''s database (pg_dump''s custom format) to FILE'
            cand restore 'Restore a backup made by `db backup` into the embedded database'
            cand upgrade 'Move the embedded cluster to the installed PostgreSQL version'
            cand destroy 'Stop the embedded database and remove it with all its data (asks first)'
        }
        &'coachctl;help;db;up'= {
        }
        &'coachctl;help;db;down'= {
        }
        &'coachctl;help;db;status'= {
        }
        &'coachctl;help;db;migrate'= {
        }
        &'coachctl;help;db;reset'= {
        }
        &'coachctl;help;db;backup'= {
        }
        &'coachctl;help;db;restore'= {
        }
        &'coachctl;help;db;upgrade'= {
        }
        &'coachctl;help;db;destroy'= {
        }
        &'coachctl;help;coach'= {
            cand dashboard 'What a coach looks at first: today, this week, members, proposals, activity'
            cand report 'One row per member and the coach''s utilisation a week (80 columns; -o json|csv)'
            cand create 'Create a coach (admin only)'
            cand list 'List coaches'
            cand show 'Show a coach''s profile: member count, free capacity, ratings'
            cand update 'Change a coach''s profile (admin, or the coach themself)'
            cand promote 'Make an existing member a coach (admin only)'
            cand deactivate 'Deactivate a coach: they stop taking members and cannot act (admin only)'
        }
        &'coachctl;help;coach;dashboard'= {
        }
        &'coachctl;help;coach;report'= {
        }
        &'coachctl;help;coach;create'= {
        }
        &'coachctl;help;coach;list'= {
        }
        &'coachctl;help;coach;show'= {
        }
        &'coachctl;help;coach;update'= {
        }
        &'coachctl;help;coach;promote'= {
        }
        &'coachctl;help;coach;deactivate'= {
        }
        &'coachctl;help;member'= {
            cand create 'Create a member; with --coach this is signup with a coach choice'
            cand list 'List members (a coach sees their own, a member only themself)'
            cand show 'Show one member'
            cand update 'Change a member''s profile; an empty text clears a field'
            cand assign 'Assign a member to a coach (admin only)'
            cand unassign 'Remove a member''s coach (admin, or that coach)'
            cand onboarding 'Set onboarding status: pending, in_progress or completed'
            cand dashboard 'What a member looks at first: next session, the next three, their coach'
            cand progress 'Attendance, ratings, programs and sessions a week over the last 12 weeks'
            cand sharing 'What the member''s coach sees: goals (default on) and health info (default off); without flags, shows the current settings'
            cand history 'Every assignment, unassignment and connection change, with when and who, and each coach relationship''s status (pending, active, inactive, terminated); a coach sees only their own period'
            cand import 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing'
            cand export 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members'
            cand privacy 'Set who may find the member: public, connections or private'
        }
        &'coachctl;help;member;create'= {
        }
        &'coachctl;help;member;list'= {
        }
        &'coachctl;help;member;show'= {
        }
        &'coachctl;help;member;update'= {
        }
        &'coachctl;help;member;assign'= {
        }
        &'coachctl;help;member;unassign'= {
        }
        &'coachctl;help;member;onboarding'= {
        }
        &'coachctl;help;member;dashboard'= {
        }
        &'coachctl;help;member;progress'= {
        }
        &'coachctl;help;member;sharing'= {
        }
        &'coachctl;help;member;history'= {
        }
        &'coachctl;help;member;import'= {
        }
        &'coachctl;help;member;export'= {
        }
        &'coachctl;help;member;privacy'= {
        }
        &'coachctl;help;availability'= {
            cand add 'Add a weekly window, in the coach''s own time zone'
            cand list 'List weekly windows'
            cand update 'Change a window; refused while booked sessions would fall outside'
            cand remove 'Remove a window; refused while it has booked future sessions'
            cand block 'Block a date or a range of dates (time off)'
            cand unblock 'Remove blocked dates'
            cand blocks 'List blocked dates'
        }
        &'coachctl;help;availability;add'= {
        }
        &'coachctl;help;availability;list'= {
        }
        &'coachctl;help;availability;update'= {
        }
        &'coachctl;help;availability;remove'= {
        }
        &'coachctl;help;availability;block'= {
        }
        &'coachctl;help;availability;unblock'= {
        }
        &'coachctl;help;availability;blocks'= {
        }
        &'coachctl;help;slots'= {
        }
        &'coachctl;help;book'= {
        }
        &'coachctl;help;session'= {
            cand list 'List sessions (a member sees their own, a coach theirs)'
            cand create 'Put a member into a session (a coach proposes, an admin schedules)'
            cand accept 'Accept a proposed session (the member)'
            cand decline 'Decline a proposed session (the member); its seat is free again'
            cand reschedule 'Move a session to another time, atomically (the member, the coach, an admin)'
            cand complete 'Mark a session that took place as completed (the coach, an admin)'
            cand note 'Add a note to a session (--private: the coach''s own)'
            cand rate 'Rate a completed session, once (its member)'
            cand export 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import'
            cand remind 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)'
            cand show 'Show one session'
            cand cancel 'Cancel a scheduled session; its slot is free again at once'
        }
        &'coachctl;help;session;list'= {
        }
        &'coachctl;help;session;create'= {
        }
        &'coachctl;help;session;accept'= {
        }
        &'coachctl;help;session;decline'= {
        }
        &'coachctl;help;session;reschedule'= {
        }
        &'coachctl;help;session;complete'= {
        }
        &'coachctl;help;session;note'= {
        }
        &'coachctl;help;session;rate'= {
        }
        &'coachctl;help;session;export'= {
        }
        &'coachctl;help;session;remind'= {
        }
        &'coachctl;help;session;show'= {
        }
        &'coachctl;help;session;cancel'= {
        }
        &'coachctl;help;notify'= {
            cand list 'List the outbox, oldest first (admin)'
            cand send 'Deliver every due message over SMTP (admin; what cron runs)'
            cand retry 'Queue failed messages again (admin)'
        }
        &'coachctl;help;notify;list'= {
        }
        &'coachctl;help;notify;send'= {
        }
        &'coachctl;help;notify;retry'= {
        }
        &'coachctl;help;admin'= {
            cand create 'Create a named admin (admin only)'
            cand list 'List admins (admin only)'
            cand remove 'Remove an admin: they can no longer act; the audit trail stays (admin only)'
        }
        &'coachctl;help;admin;create'= {
        }
        &'coachctl;help;admin;list'= {
        }
        &'coachctl;help;admin;remove'= {
        }
        &'coachctl;help;audit'= {
            cand list 'List changes, last committed first (admin only)'
        }
        &'coachctl;help;audit;list'= {
        }
        &'coachctl;help;doctor'= {
        }
        &'coachctl;help;completions'= {
        }
        &'coachctl;help;man'= {
        }
        &'coachctl;help;demo'= {
        }
        &'coachctl;help;seed'= {
        }
        &'coachctl;help;invite'= {
            cand send 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours'
            cand accept 'Accept an invitation: creates the member if needed and the connection'
            cand decline 'Decline an invitation'
            cand revoke 'Withdraw a pending invitation (its coach or an admin)'
            cand list 'List invitations: a coach''s own, a member''s received, all for admins'
        }
        &'coachctl;help;invite;send'= {
        }
        &'coachctl;help;invite;accept'= {
        }
        &'coachctl;help;invite;decline'= {
        }
        &'coachctl;help;invite;revoke'= {
        }
        &'coachctl;help;invite;list'= {
        }
        &'coachctl;help;connect'= {
            cand request 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days'
            cand respond 'Accept or decline a request (the side that was asked)'
            cand list 'List your connections (all for admins)'
            cand search 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members'
            cand remove 'End a connection (either side); scheduled sessions stay'
        }
        &'coachctl;help;connect;request'= {
        }
        &'coachctl;help;connect;respond'= {
        }
        &'coachctl;help;connect;list'= {
        }
        &'coachctl;help;connect;search'= {
        }
        &'coachctl;help;connect;remove'= {
        }
        &'coachctl;help;message'= {
            cand send 'Send a message to your coach or member (participants only)'
            cand list 'List your messages, unread first; listing marks them read'
        }
        &'coachctl;help;message;send'= {
        }
        &'coachctl;help;message;list'= {
        }
        &'coachctl;help;program'= {
            cand create 'Create a program (a coach''s own; an admin''s for --coach, or a template for all)'
            cand list 'List programs (a coach sees their own and the admins'' templates)'
            cand show 'Show a program, or an enrolment with its progress'
            cand update 'Change a program (its coach, an admin); enrolments keep their series'
            cand archive 'Archive a program: no new assignments; enrolments run on'
            cand assign 'Assign a program to a member: every session of the series, or none'
            cand accept 'Accept a proposed series as a whole (the member)'
            cand decline 'Decline a proposed series as a whole (the member); its seats are free again'
            cand adjust 'Move the rest of a series to new weekly times, or extend it (all or nothing)'
            cand cancel 'Cancel every remaining session of a series; completed ones stay'
        }
        &'coachctl;help;program;create'= {
        }
        &'coachctl;help;program;list'= {
        }
        &'coachctl;help;program;show'= {
        }
        &'coachctl;help;program;update'= {
        }
        &'coachctl;help;program;archive'= {
        }
        &'coachctl;help;program;assign'= {
        }
        &'coachctl;help;program;accept'= {
        }
        &'coachctl;help;program;decline'= {
        }
        &'coachctl;help;program;adjust'= {
        }
        &'coachctl;help;program;cancel'= {
        }
        &'coachctl;help;insight'= {
            cand add 'Give a member an insight (their coach); the member gets a notice'
            cand list 'List insights (the pair''s own; unread first)'
            cand ack 'Acknowledge an insight (its member), optionally with an answer for the coach'
        }
        &'coachctl;help;insight;add'= {
        }
        &'coachctl;help;insight;list'= {
        }
        &'coachctl;help;insight;ack'= {
        }
        &'coachctl;help;config'= {
            cand show 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked'
        }
        &'coachctl;help;config;show'= {
        }
        &'coachctl;help;help'= {
        }
    ]
    $completions[$command]
}
