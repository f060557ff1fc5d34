
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'coachctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'coachctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'coachctl' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'The database: start, stop, status, migrate, reset')
            [CompletionResult]::new('coach', 'coach', [CompletionResultType]::ParameterValue, 'Coaches: create, list, show, update, promote, deactivate')
            [CompletionResult]::new('member', 'member', [CompletionResultType]::ParameterValue, 'Members: create (signup), list, show, update, assign, onboarding, privacy')
            [CompletionResult]::new('availability', 'availability', [CompletionResultType]::ParameterValue, 'Weekly availability windows and blocked dates')
            [CompletionResult]::new('slots', 'slots', [CompletionResultType]::ParameterValue, 'Open slots of a coach, in the coach''s time zone')
            [CompletionResult]::new('book', 'book', [CompletionResultType]::ParameterValue, 'Book a slot (atomic: never overbooks)')
            [CompletionResult]::new('session', 'session', [CompletionResultType]::ParameterValue, 'Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind')
            [CompletionResult]::new('notify', 'notify', [CompletionResultType]::ParameterValue, 'The email outbox: list, send (cron), retry')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Named admins: create, list, remove')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The audit log: who changed what, when')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages for every command into a directory')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Seed a small realistic organisation and show it')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Declare an organisation from a TOML or JSON file: create what is missing (CI)')
            [CompletionResult]::new('invite', 'invite', [CompletionResultType]::ParameterValue, 'Invitations: send, list, accept, decline, revoke')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connections between coaches and members: request, respond, list, remove')
            [CompletionResult]::new('message', 'message', [CompletionResultType]::ParameterValue, 'Messages between a coach and their members: send, list')
            [CompletionResult]::new('program', 'program', [CompletionResultType]::ParameterValue, 'Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel')
            [CompletionResult]::new('insight', 'insight', [CompletionResultType]::ParameterValue, 'Coaching insights from a coach to their member: add, list, ack')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'The config file (~/.config/coachctl/config.toml): show the effective settings')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;db' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Create and start the embedded database if needed, apply migrations (idempotent)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the embedded database')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the database lives, the server version and the schema version')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Apply pending schema migrations')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Drop all coachctl data and recreate the schema (asks first)')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Write a backup of coachctl''s database (pg_dump''s custom format) to FILE')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore a backup made by `db backup` into the embedded database')
            [CompletionResult]::new('upgrade', 'upgrade', [CompletionResultType]::ParameterValue, 'Move the embedded cluster to the installed PostgreSQL version')
            [CompletionResult]::new('destroy', 'destroy', [CompletionResultType]::ParameterValue, 'Stop the embedded database and remove it with all its data (asks first)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;db;up' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;down' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;status' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;migrate' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;reset' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;backup' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;restore' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;upgrade' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;destroy' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;db;help' {
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Create and start the embedded database if needed, apply migrations (idempotent)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the embedded database')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the database lives, the server version and the schema version')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Apply pending schema migrations')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Drop all coachctl data and recreate the schema (asks first)')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Write a backup of coachctl''s database (pg_dump''s custom format) to FILE')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore a backup made by `db backup` into the embedded database')
            [CompletionResult]::new('upgrade', 'upgrade', [CompletionResultType]::ParameterValue, 'Move the embedded cluster to the installed PostgreSQL version')
            [CompletionResult]::new('destroy', 'destroy', [CompletionResultType]::ParameterValue, 'Stop the embedded database and remove it with all its data (asks first)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;db;help;up' {
            break
        }
        'coachctl;db;help;down' {
            break
        }
        'coachctl;db;help;status' {
            break
        }
        'coachctl;db;help;migrate' {
            break
        }
        'coachctl;db;help;reset' {
            break
        }
        'coachctl;db;help;backup' {
            break
        }
        'coachctl;db;help;restore' {
            break
        }
        'coachctl;db;help;upgrade' {
            break
        }
        'coachctl;db;help;destroy' {
            break
        }
        'coachctl;db;help;help' {
            break
        }
        'coachctl;coach' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'What a coach looks at first: today, this week, members, proposals, activity')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'One row per member and the coach''s utilisation a week (80 columns; -o json|csv)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a coach (admin only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List coaches')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a coach''s profile: member count, free capacity, ratings')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a coach''s profile (admin, or the coach themself)')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make an existing member a coach (admin only)')
            [CompletionResult]::new('deactivate', 'deactivate', [CompletionResultType]::ParameterValue, 'Deactivate a coach: they stop taking members and cannot act (admin only)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;coach;dashboard' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;report' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From this day''s week (default: 12 weeks before --to)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Up to this day (default: today)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;create' {
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'The coach''s email address (unique)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The coach''s display name')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'The coach''s IANA time zone; availability is read in it')
            [CompletionResult]::new('--specialization', '--specialization', [CompletionResultType]::ParameterName, 'Specialization, e.g. "strength training"')
            [CompletionResult]::new('--bio', '--bio', [CompletionResultType]::ParameterName, 'A short biography')
            [CompletionResult]::new('--certifications', '--certifications', [CompletionResultType]::ParameterName, 'Certifications, free text')
            [CompletionResult]::new('--max-members', '--max-members', [CompletionResultType]::ParameterName, 'Most active members the coach takes (default 20)')
            [CompletionResult]::new('--min-notice', '--min-notice', [CompletionResultType]::ParameterName, 'Minimum notice for a booking, in minutes (default 0)')
            [CompletionResult]::new('--horizon', '--horizon', [CompletionResultType]::ParameterName, 'Take bookings at most this many days ahead')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--accepting', '--accepting', [CompletionResultType]::ParameterName, 'Accept new members (the default for a new coach)')
            [CompletionResult]::new('--not-accepting', '--not-accepting', [CompletionResultType]::ParameterName, 'Stop accepting new members; hides the coach from signup')
            [CompletionResult]::new('--no-horizon', '--no-horizon', [CompletionResultType]::ParameterName, 'Take bookings any time ahead (the default)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many coaches')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this coach: the email or id of the last one shown (coaches are ordered by email)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--accepting', '--accepting', [CompletionResultType]::ParameterName, 'Only coaches accepting members (the signup choice)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include deactivated coaches')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'New IANA time zone')
            [CompletionResult]::new('--specialization', '--specialization', [CompletionResultType]::ParameterName, 'Specialization, e.g. "strength training"')
            [CompletionResult]::new('--bio', '--bio', [CompletionResultType]::ParameterName, 'A short biography')
            [CompletionResult]::new('--certifications', '--certifications', [CompletionResultType]::ParameterName, 'Certifications, free text')
            [CompletionResult]::new('--max-members', '--max-members', [CompletionResultType]::ParameterName, 'Most active members the coach takes (default 20)')
            [CompletionResult]::new('--min-notice', '--min-notice', [CompletionResultType]::ParameterName, 'Minimum notice for a booking, in minutes (default 0)')
            [CompletionResult]::new('--horizon', '--horizon', [CompletionResultType]::ParameterName, 'Take bookings at most this many days ahead')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--accepting', '--accepting', [CompletionResultType]::ParameterName, 'Accept new members (the default for a new coach)')
            [CompletionResult]::new('--not-accepting', '--not-accepting', [CompletionResultType]::ParameterName, 'Stop accepting new members; hides the coach from signup')
            [CompletionResult]::new('--no-horizon', '--no-horizon', [CompletionResultType]::ParameterName, 'Take bookings any time ahead (the default)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;promote' {
            [CompletionResult]::new('--specialization', '--specialization', [CompletionResultType]::ParameterName, 'Specialization, e.g. "strength training"')
            [CompletionResult]::new('--bio', '--bio', [CompletionResultType]::ParameterName, 'A short biography')
            [CompletionResult]::new('--certifications', '--certifications', [CompletionResultType]::ParameterName, 'Certifications, free text')
            [CompletionResult]::new('--max-members', '--max-members', [CompletionResultType]::ParameterName, 'Most active members the coach takes (default 20)')
            [CompletionResult]::new('--min-notice', '--min-notice', [CompletionResultType]::ParameterName, 'Minimum notice for a booking, in minutes (default 0)')
            [CompletionResult]::new('--horizon', '--horizon', [CompletionResultType]::ParameterName, 'Take bookings at most this many days ahead')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--accepting', '--accepting', [CompletionResultType]::ParameterName, 'Accept new members (the default for a new coach)')
            [CompletionResult]::new('--not-accepting', '--not-accepting', [CompletionResultType]::ParameterName, 'Stop accepting new members; hides the coach from signup')
            [CompletionResult]::new('--no-horizon', '--no-horizon', [CompletionResultType]::ParameterName, 'Take bookings any time ahead (the default)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;deactivate' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;coach;help' {
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'What a coach looks at first: today, this week, members, proposals, activity')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'One row per member and the coach''s utilisation a week (80 columns; -o json|csv)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a coach (admin only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List coaches')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a coach''s profile: member count, free capacity, ratings')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a coach''s profile (admin, or the coach themself)')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make an existing member a coach (admin only)')
            [CompletionResult]::new('deactivate', 'deactivate', [CompletionResultType]::ParameterValue, 'Deactivate a coach: they stop taking members and cannot act (admin only)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;coach;help;dashboard' {
            break
        }
        'coachctl;coach;help;report' {
            break
        }
        'coachctl;coach;help;create' {
            break
        }
        'coachctl;coach;help;list' {
            break
        }
        'coachctl;coach;help;show' {
            break
        }
        'coachctl;coach;help;update' {
            break
        }
        'coachctl;coach;help;promote' {
            break
        }
        'coachctl;coach;help;deactivate' {
            break
        }
        'coachctl;coach;help;help' {
            break
        }
        'coachctl;member' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a member; with --coach this is signup with a coach choice')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List members (a coach sees their own, a member only themself)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one member')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a member''s profile; an empty text clears a field')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign a member to a coach (admin only)')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Remove a member''s coach (admin, or that coach)')
            [CompletionResult]::new('onboarding', 'onboarding', [CompletionResultType]::ParameterValue, 'Set onboarding status: pending, in_progress or completed')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'What a member looks at first: next session, the next three, their coach')
            [CompletionResult]::new('progress', 'progress', [CompletionResultType]::ParameterValue, 'Attendance, ratings, programs and sessions a week over the last 12 weeks')
            [CompletionResult]::new('sharing', 'sharing', [CompletionResultType]::ParameterValue, 'What the member''s coach sees: goals (default on) and health info (default off); without flags, shows the current settings')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Every assignment, unassignment and connection change, with when and who, and each coach relationship''s status (pending, active, inactive, terminated); a coach sees only their own period')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members')
            [CompletionResult]::new('privacy', 'privacy', [CompletionResultType]::ParameterValue, 'Set who may find the member: public, connections or private')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;member;create' {
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'The member''s email address (unique)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The member''s display name')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'The member''s IANA time zone')
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Assign this coach (email or id); refused if full or not accepting')
            [CompletionResult]::new('--goals', '--goals', [CompletionResultType]::ParameterName, 'The member''s goals')
            [CompletionResult]::new('--health-info', '--health-info', [CompletionResultType]::ParameterName, 'Health information the coach should know')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;list' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only members of this coach (email or id)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only members with this membership status')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many members')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this member: the email or id of the last one shown (members are ordered by email)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--unassigned', '--unassigned', [CompletionResultType]::ParameterName, 'Only members without a coach')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'New IANA time zone')
            [CompletionResult]::new('--goals', '--goals', [CompletionResultType]::ParameterName, 'Goals')
            [CompletionResult]::new('--health-info', '--health-info', [CompletionResultType]::ParameterName, 'Health information')
            [CompletionResult]::new('--coach-notes', '--coach-notes', [CompletionResultType]::ParameterName, 'Coach-private notes (coach and admins only)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Membership status: active, inactive or paused')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;assign' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach''s email or id')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;unassign' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;onboarding' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;dashboard' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;progress' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;sharing' {
            [CompletionResult]::new('--goals', '--goals', [CompletionResultType]::ParameterName, 'Share goals with the coach')
            [CompletionResult]::new('--health-info', '--health-info', [CompletionResultType]::ParameterName, 'Share health information with the coach')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;history' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;import' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Assign every member of the file to this coach (email, id or id prefix)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--update', '--update', [CompletionResultType]::ParameterName, 'Change existing members whose row differs (else such rows are errors)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Check the file and print what would change; write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;export' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only the members of this coach (email, id or id prefix)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;privacy' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;member;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a member; with --coach this is signup with a coach choice')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List members (a coach sees their own, a member only themself)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one member')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a member''s profile; an empty text clears a field')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign a member to a coach (admin only)')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Remove a member''s coach (admin, or that coach)')
            [CompletionResult]::new('onboarding', 'onboarding', [CompletionResultType]::ParameterValue, 'Set onboarding status: pending, in_progress or completed')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'What a member looks at first: next session, the next three, their coach')
            [CompletionResult]::new('progress', 'progress', [CompletionResultType]::ParameterValue, 'Attendance, ratings, programs and sessions a week over the last 12 weeks')
            [CompletionResult]::new('sharing', 'sharing', [CompletionResultType]::ParameterValue, 'What the member''s coach sees: goals (default on) and health info (default off); without flags, shows the current settings')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Every assignment, unassignment and connection change, with when and who, and each coach relationship''s status (pending, active, inactive, terminated); a coach sees only their own period')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members')
            [CompletionResult]::new('privacy', 'privacy', [CompletionResultType]::ParameterValue, 'Set who may find the member: public, connections or private')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;member;help;create' {
            break
        }
        'coachctl;member;help;list' {
            break
        }
        'coachctl;member;help;show' {
            break
        }
        'coachctl;member;help;update' {
            break
        }
        'coachctl;member;help;assign' {
            break
        }
        'coachctl;member;help;unassign' {
            break
        }
        'coachctl;member;help;onboarding' {
            break
        }
        'coachctl;member;help;dashboard' {
            break
        }
        'coachctl;member;help;progress' {
            break
        }
        'coachctl;member;help;sharing' {
            break
        }
        'coachctl;member;help;history' {
            break
        }
        'coachctl;member;help;import' {
            break
        }
        'coachctl;member;help;export' {
            break
        }
        'coachctl;member;help;privacy' {
            break
        }
        'coachctl;member;help;help' {
            break
        }
        'coachctl;availability' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a weekly window, in the coach''s own time zone')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List weekly windows')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a window; refused while booked sessions would fall outside')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a window; refused while it has booked future sessions')
            [CompletionResult]::new('block', 'block', [CompletionResultType]::ParameterValue, 'Block a date or a range of dates (time off)')
            [CompletionResult]::new('unblock', 'unblock', [CompletionResultType]::ParameterValue, 'Remove blocked dates')
            [CompletionResult]::new('blocks', 'blocks', [CompletionResultType]::ParameterValue, 'List blocked dates')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;availability;add' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach (email or id); a coach acting may leave it out')
            [CompletionResult]::new('--day', '--day', [CompletionResultType]::ParameterName, 'Day of week: sun..sat, a full name, or 0-6 (Sunday = 0)')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Start, HH:MM')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'End, HH:MM (after the start)')
            [CompletionResult]::new('--length', '--length', [CompletionResultType]::ParameterName, 'Session length in minutes')
            [CompletionResult]::new('--buffer', '--buffer', [CompletionResultType]::ParameterName, 'Minutes kept free before and after each session')
            [CompletionResult]::new('--capacity', '--capacity', [CompletionResultType]::ParameterName, 'Sessions per slot (max_sessions_per_slot)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;list' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only this coach''s windows (email or id)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;update' {
            [CompletionResult]::new('--day', '--day', [CompletionResultType]::ParameterName, 'New day of week')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'New start, HH:MM')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'New end, HH:MM')
            [CompletionResult]::new('--length', '--length', [CompletionResultType]::ParameterName, 'New session length in minutes')
            [CompletionResult]::new('--buffer', '--buffer', [CompletionResultType]::ParameterName, 'New buffer in minutes')
            [CompletionResult]::new('--capacity', '--capacity', [CompletionResultType]::ParameterName, 'New sessions per slot')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;remove' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;block' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach (email or id); a coach acting may leave it out')
            [CompletionResult]::new('--date', '--date', [CompletionResultType]::ParameterName, 'The first blocked date in the coach''s zone: YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The last blocked date (default: the same day)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the record')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;unblock' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;blocks' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only this coach''s blocks')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;availability;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a weekly window, in the coach''s own time zone')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List weekly windows')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a window; refused while booked sessions would fall outside')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a window; refused while it has booked future sessions')
            [CompletionResult]::new('block', 'block', [CompletionResultType]::ParameterValue, 'Block a date or a range of dates (time off)')
            [CompletionResult]::new('unblock', 'unblock', [CompletionResultType]::ParameterValue, 'Remove blocked dates')
            [CompletionResult]::new('blocks', 'blocks', [CompletionResultType]::ParameterValue, 'List blocked dates')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;availability;help;add' {
            break
        }
        'coachctl;availability;help;list' {
            break
        }
        'coachctl;availability;help;update' {
            break
        }
        'coachctl;availability;help;remove' {
            break
        }
        'coachctl;availability;help;block' {
            break
        }
        'coachctl;availability;help;unblock' {
            break
        }
        'coachctl;availability;help;blocks' {
            break
        }
        'coachctl;availability;help;help' {
            break
        }
        'coachctl;slots' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach (email or id)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'First local date (default: today in the coach''s zone): YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'How many days from --from (default 7)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Last local date, inclusive')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'List full slots too, with remaining 0')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Keep the view current as others book and cancel (Ctrl-C stops): on a terminal it redraws, otherwise it prints one JSON line per change')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;book' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach (email or id)')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'The slot''s start, e.g. 2027-03-29T09:00, ''tomorrow 9:00'', ''mon 14:30''; without an offset it is read in the coach''s zone. Left out on a terminal: choose from a list, then confirm')
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'The member (email or id); a member acting books for themself')
            [CompletionResult]::new('--notes', '--notes', [CompletionResultType]::ParameterName, 'Notes for the coach')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'initial, regular or followup (default: initial for a first session with the coach)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List sessions (a member sees their own, a coach theirs)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Put a member into a session (a coach proposes, an admin schedules)')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept a proposed session (the member)')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline a proposed session (the member); its seat is free again')
            [CompletionResult]::new('reschedule', 'reschedule', [CompletionResultType]::ParameterValue, 'Move a session to another time, atomically (the member, the coach, an admin)')
            [CompletionResult]::new('complete', 'complete', [CompletionResultType]::ParameterValue, 'Mark a session that took place as completed (the coach, an admin)')
            [CompletionResult]::new('note', 'note', [CompletionResultType]::ParameterValue, 'Add a note to a session (--private: the coach''s own)')
            [CompletionResult]::new('rate', 'rate', [CompletionResultType]::ParameterValue, 'Rate a completed session, once (its member)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import')
            [CompletionResult]::new('remind', 'remind', [CompletionResultType]::ParameterValue, 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one session')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a scheduled session; its slot is free again at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;session;list' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From this date or time (inclusive): YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like ''tomorrow 9:00''')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Until this date (inclusive) or time (exclusive)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only sessions with this status')
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only this coach''s sessions')
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'Only this member''s sessions')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many sessions')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this session: the id of the last one shown (sessions are ordered by start, then id)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--upcoming', '--upcoming', [CompletionResultType]::ParameterName, 'Only sessions still ahead that hold a seat (proposed or scheduled)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Past sessions too (without it, and without --from/--to, only sessions that have not ended are listed)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;create' {
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'The member (email or id)')
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach; a coach acting creates their own sessions')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'The start, e.g. 2027-04-01T15:00, ''tomorrow 9:00'', ''fri 14:30''; without an offset it is read in the coach''s zone')
            [CompletionResult]::new('--length', '--length', [CompletionResultType]::ParameterName, 'Length in minutes (default: the window''s; off the grid 60)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'initial, regular or followup (default: initial for a first session)')
            [CompletionResult]::new('--notes', '--notes', [CompletionResultType]::ParameterName, 'A shared note for the member')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Until when a proposal holds its seat, e.g. ''tomorrow 18:00'' (default 48 h, never after the start)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--off-grid', '--off-grid', [CompletionResultType]::ParameterName, 'Outside the coach''s windows (capacity, buffers and blocks still hold)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;accept' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;decline' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the coach')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;reschedule' {
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'The new start, e.g. 2027-04-05T09:00 or ''mon 9:00''; without an offset it is read in the coach''s zone')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;complete' {
            [CompletionResult]::new('--notes', '--notes', [CompletionResultType]::ParameterName, 'Coach-private notes')
            [CompletionResult]::new('--outcomes', '--outcomes', [CompletionResultType]::ParameterName, 'What came out of it')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;note' {
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'The note')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--private', '--private', [CompletionResultType]::ParameterName, 'Only the coach and admins read it')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;rate' {
            [CompletionResult]::new('--rating', '--rating', [CompletionResultType]::ParameterName, '1 to 5')
            [CompletionResult]::new('--feedback', '--feedback', [CompletionResultType]::ParameterName, 'What went well or not')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;export' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only this coach''s sessions')
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'Only this member''s sessions')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From this date or time (inclusive): YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like ''tomorrow 9:00''')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Until this date (inclusive) or time (exclusive)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--ics', '--ics', [CompletionResultType]::ParameterName, 'Write iCalendar (the one export format)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;remind' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;cancel' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the record and the other party')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;session;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List sessions (a member sees their own, a coach theirs)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Put a member into a session (a coach proposes, an admin schedules)')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept a proposed session (the member)')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline a proposed session (the member); its seat is free again')
            [CompletionResult]::new('reschedule', 'reschedule', [CompletionResultType]::ParameterValue, 'Move a session to another time, atomically (the member, the coach, an admin)')
            [CompletionResult]::new('complete', 'complete', [CompletionResultType]::ParameterValue, 'Mark a session that took place as completed (the coach, an admin)')
            [CompletionResult]::new('note', 'note', [CompletionResultType]::ParameterValue, 'Add a note to a session (--private: the coach''s own)')
            [CompletionResult]::new('rate', 'rate', [CompletionResultType]::ParameterValue, 'Rate a completed session, once (its member)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import')
            [CompletionResult]::new('remind', 'remind', [CompletionResultType]::ParameterValue, 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one session')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a scheduled session; its slot is free again at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;session;help;list' {
            break
        }
        'coachctl;session;help;create' {
            break
        }
        'coachctl;session;help;accept' {
            break
        }
        'coachctl;session;help;decline' {
            break
        }
        'coachctl;session;help;reschedule' {
            break
        }
        'coachctl;session;help;complete' {
            break
        }
        'coachctl;session;help;note' {
            break
        }
        'coachctl;session;help;rate' {
            break
        }
        'coachctl;session;help;export' {
            break
        }
        'coachctl;session;help;remind' {
            break
        }
        'coachctl;session;help;show' {
            break
        }
        'coachctl;session;help;cancel' {
            break
        }
        'coachctl;session;help;help' {
            break
        }
        'coachctl;notify' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the outbox, oldest first (admin)')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Deliver every due message over SMTP (admin; what cron runs)')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Queue failed messages again (admin)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;notify;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only messages in this state')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many rows (stderr says when there are more)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;notify;send' {
            [CompletionResult]::new('--smtp-url', '--smtp-url', [CompletionResultType]::ParameterName, 'SMTP server: smtp://host:port, smtp://host:port?tls=required (STARTTLS), smtps://user:pass@host (implicit TLS)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The sender address')
            [CompletionResult]::new('--smtp-ca', '--smtp-ca', [CompletionResultType]::ParameterName, 'A PEM file of the CA that signed the SMTP server''s certificate (a private relay), trusted besides the public roots')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Messages claimed at a time')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts before a message stays failed')
            [CompletionResult]::new('--lease', '--lease', [CompletionResultType]::ParameterName, 'How long a claimed message is this sender''s before another may take it: 30s, 5m, 1h. Renewed right before each message is handed over; keep it well above the server''s time per message')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors (a message that failed for good is one)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors (a message that failed for good is one)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;notify;retry' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--all-failed', '--all-failed', [CompletionResultType]::ParameterName, 'Every failed message')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;notify;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the outbox, oldest first (admin)')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Deliver every due message over SMTP (admin; what cron runs)')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Queue failed messages again (admin)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;notify;help;list' {
            break
        }
        'coachctl;notify;help;send' {
            break
        }
        'coachctl;notify;help;retry' {
            break
        }
        'coachctl;notify;help;help' {
            break
        }
        'coachctl;admin' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a named admin (admin only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List admins (admin only)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an admin: they can no longer act; the audit trail stays (admin only)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;admin;create' {
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'The admin''s email address (unique)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The admin''s display name')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'The admin''s IANA time zone, for times shown to them')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;admin;list' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include removed admins')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;admin;remove' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;admin;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a named admin (admin only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List admins (admin only)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an admin: they can no longer act; the audit trail stays (admin only)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;admin;help;create' {
            break
        }
        'coachctl;admin;help;list' {
            break
        }
        'coachctl;admin;help;remove' {
            break
        }
        'coachctl;admin;help;help' {
            break
        }
        'coachctl;audit' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List changes, last committed first (admin only)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;audit;list' {
            [CompletionResult]::new('--entity', '--entity', [CompletionResultType]::ParameterName, 'Only this kind of entity: coach, member, ...')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Only changes to this id (or its first 8+ hex digits)')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Only this action, e.g. member.assign')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many entries (stderr says when there are more)')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this entry: the id of the last (oldest) one shown')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;audit;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List changes, last committed first (admin only)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;audit;help;list' {
            break
        }
        'coachctl;audit;help;help' {
            break
        }
        'coachctl;doctor' {
            [CompletionResult]::new('--smtp-url', '--smtp-url', [CompletionResultType]::ParameterName, 'The SMTP server to check (as `notify send` uses it)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write the scripts for every shell into this directory instead')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;man' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;demo' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;seed' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would be created or changed, and write nothing')
            [CompletionResult]::new('--update', '--update', [CompletionResultType]::ParameterName, 'Change coaches, members, windows and blocks that exist but differ from the file')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;invite' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept an invitation: creates the member if needed and the connection')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline an invitation')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Withdraw a pending invitation (its coach or an admin)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List invitations: a coach''s own, a member''s received, all for admins')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;invite;send' {
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'Invite this email address (a new or existing member)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Invite this existing member (email or id)')
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The inviting coach (admins only; a coach invites as themself)')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'A personal message for the invitee')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--assign', '--assign', [CompletionResultType]::ParameterName, 'Accepting also assigns the member to the coach, within capacity')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;invite;accept' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Your name, when the invitation creates your account (default: the email''s local part)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;invite;decline' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;invite;revoke' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;invite;list' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;invite;help' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept an invitation: creates the member if needed and the connection')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline an invitation')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Withdraw a pending invitation (its coach or an admin)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List invitations: a coach''s own, a member''s received, all for admins')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;invite;help;send' {
            break
        }
        'coachctl;invite;help;accept' {
            break
        }
        'coachctl;invite;help;decline' {
            break
        }
        'coachctl;invite;help;revoke' {
            break
        }
        'coachctl;invite;help;list' {
            break
        }
        'coachctl;invite;help;help' {
            break
        }
        'coachctl;connect' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('request', 'request', [CompletionResultType]::ParameterValue, 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days')
            [CompletionResult]::new('respond', 'respond', [CompletionResultType]::ParameterValue, 'Accept or decline a request (the side that was asked)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List your connections (all for admins)')
            [CompletionResult]::new('search', 'search', [CompletionResultType]::ParameterValue, 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'End a connection (either side); scheduled sessions stay')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;connect;request' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach to connect with (email or id)')
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'The member to connect with (email or id)')
            [CompletionResult]::new('--area', '--area', [CompletionResultType]::ParameterName, 'The expertise area the connection is about')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'A message for the other side')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;connect;respond' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--accept', '--accept', [CompletionResultType]::ParameterName, 'Accept the request')
            [CompletionResult]::new('--decline', '--decline', [CompletionResultType]::ParameterName, 'Decline the request')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;connect;list' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;connect;search' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Part of the name')
            [CompletionResult]::new('--area', '--area', [CompletionResultType]::ParameterName, 'Part of the expertise area (a coach''s specialization, a member''s goals)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;connect;remove' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;connect;help' {
            [CompletionResult]::new('request', 'request', [CompletionResultType]::ParameterValue, 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days')
            [CompletionResult]::new('respond', 'respond', [CompletionResultType]::ParameterValue, 'Accept or decline a request (the side that was asked)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List your connections (all for admins)')
            [CompletionResult]::new('search', 'search', [CompletionResultType]::ParameterValue, 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'End a connection (either side); scheduled sessions stay')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;connect;help;request' {
            break
        }
        'coachctl;connect;help;respond' {
            break
        }
        'coachctl;connect;help;list' {
            break
        }
        'coachctl;connect;help;search' {
            break
        }
        'coachctl;connect;help;remove' {
            break
        }
        'coachctl;connect;help;help' {
            break
        }
        'coachctl;message' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to your coach or member (participants only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List your messages, unread first; listing marks them read')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;message;send' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The recipient (email or id)')
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'The message')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;message;list' {
            [CompletionResult]::new('--with', '--with', [CompletionResultType]::ParameterName, 'Only the conversation with this person (email or id)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--unread', '--unread', [CompletionResultType]::ParameterName, 'Print only the number of unread messages (for scripts); marks nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;message;help' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to your coach or member (participants only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List your messages, unread first; listing marks them read')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;message;help;send' {
            break
        }
        'coachctl;message;help;list' {
            break
        }
        'coachctl;message;help;help' {
            break
        }
        'coachctl;program' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a program (a coach''s own; an admin''s for --coach, or a template for all)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List programs (a coach sees their own and the admins'' templates)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a program, or an enrolment with its progress')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a program (its coach, an admin); enrolments keep their series')
            [CompletionResult]::new('archive', 'archive', [CompletionResultType]::ParameterValue, 'Archive a program: no new assignments; enrolments run on')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign a program to a member: every session of the series, or none')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept a proposed series as a whole (the member)')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline a proposed series as a whole (the member); its seats are free again')
            [CompletionResult]::new('adjust', 'adjust', [CompletionResultType]::ParameterValue, 'Move the rest of a series to new weekly times, or extend it (all or nothing)')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel every remaining session of a series; completed ones stay')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;program;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'What it is called')
            [CompletionResult]::new('--weeks', '--weeks', [CompletionResultType]::ParameterName, 'How many weeks it runs (1-104)')
            [CompletionResult]::new('--per-week', '--per-week', [CompletionResultType]::ParameterName, 'Sessions a week (default 1)')
            [CompletionResult]::new('--length', '--length', [CompletionResultType]::ParameterName, 'Minutes a session (default 60)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'What the member can expect')
            [CompletionResult]::new('--difficulty', '--difficulty', [CompletionResultType]::ParameterName, 'beginner, intermediate or advanced')
            [CompletionResult]::new('--goal', '--goal', [CompletionResultType]::ParameterName, 'A goal of the program (repeatable)')
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach it belongs to (admins; a coach creates their own)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'A template: an admin''s for every coach, a coach''s for themself')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;list' {
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'Only this coach''s programs (and the templates for all)')
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'With --enrolments: only this member''s')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--templates', '--templates', [CompletionResultType]::ParameterName, 'Only templates')
            [CompletionResult]::new('--archived', '--archived', [CompletionResultType]::ParameterName, 'Archived programs too')
            [CompletionResult]::new('--enrolments', '--enrolments', [CompletionResultType]::ParameterName, 'List enrolments (assigned programs) instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'name')
            [CompletionResult]::new('--weeks', '--weeks', [CompletionResultType]::ParameterName, 'weeks')
            [CompletionResult]::new('--per-week', '--per-week', [CompletionResultType]::ParameterName, 'per-week')
            [CompletionResult]::new('--length', '--length', [CompletionResultType]::ParameterName, 'length')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Empty text clears it')
            [CompletionResult]::new('--difficulty', '--difficulty', [CompletionResultType]::ParameterName, 'difficulty')
            [CompletionResult]::new('--goal', '--goal', [CompletionResultType]::ParameterName, 'Replace the goals (repeatable)')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Make it a template (true) or not (false)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;archive' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;assign' {
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'The member (email or id)')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'The first day of the series (the coach''s zone): YYYY-MM-DD, today, mon..sun, +3d')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'A weekly time in the coach''s zone, e.g. ''wed 09:00'' (once per session a week)')
            [CompletionResult]::new('--coach', '--coach', [CompletionResultType]::ParameterName, 'The coach who runs an admins'' template (admins)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the series and its conflicts; book nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;accept' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;decline' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;adjust' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Move the sessions from this day on (the coach''s zone)')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'The new weekly time(s), e.g. ''thu 10:00''')
            [CompletionResult]::new('--extend', '--extend', [CompletionResultType]::ParameterName, 'Add this many weeks at the current times')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;cancel' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;program;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a program (a coach''s own; an admin''s for --coach, or a template for all)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List programs (a coach sees their own and the admins'' templates)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a program, or an enrolment with its progress')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a program (its coach, an admin); enrolments keep their series')
            [CompletionResult]::new('archive', 'archive', [CompletionResultType]::ParameterValue, 'Archive a program: no new assignments; enrolments run on')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign a program to a member: every session of the series, or none')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept a proposed series as a whole (the member)')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline a proposed series as a whole (the member); its seats are free again')
            [CompletionResult]::new('adjust', 'adjust', [CompletionResultType]::ParameterValue, 'Move the rest of a series to new weekly times, or extend it (all or nothing)')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel every remaining session of a series; completed ones stay')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;program;help;create' {
            break
        }
        'coachctl;program;help;list' {
            break
        }
        'coachctl;program;help;show' {
            break
        }
        'coachctl;program;help;update' {
            break
        }
        'coachctl;program;help;archive' {
            break
        }
        'coachctl;program;help;assign' {
            break
        }
        'coachctl;program;help;accept' {
            break
        }
        'coachctl;program;help;decline' {
            break
        }
        'coachctl;program;help;adjust' {
            break
        }
        'coachctl;program;help;cancel' {
            break
        }
        'coachctl;program;help;help' {
            break
        }
        'coachctl;insight' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Give a member an insight (their coach); the member gets a notice')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List insights (the pair''s own; unread first)')
            [CompletionResult]::new('ack', 'ack', [CompletionResultType]::ParameterValue, 'Acknowledge an insight (its member), optionally with an answer for the coach')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;insight;add' {
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'The member (email or id)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'recommendation, observation, goal-update or program-adjustment')
            [CompletionResult]::new('--title', '--title', [CompletionResultType]::ParameterName, 'title')
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'text')
            [CompletionResult]::new('--priority', '--priority', [CompletionResultType]::ParameterName, 'low, medium (default) or high')
            [CompletionResult]::new('--program', '--program', [CompletionResultType]::ParameterName, 'The enrolment it is about')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;insight;list' {
            [CompletionResult]::new('--member', '--member', [CompletionResultType]::ParameterName, 'Only this member''s')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('--unread', '--unread', [CompletionResultType]::ParameterName, 'Only those not yet acknowledged')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;insight;ack' {
            [CompletionResult]::new('--response', '--response', [CompletionResultType]::ParameterName, 'response')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;insight;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Give a member an insight (their coach); the member gets a notice')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List insights (the pair''s own; unread first)')
            [CompletionResult]::new('ack', 'ack', [CompletionResultType]::ParameterValue, 'Acknowledge an insight (its member), optionally with an answer for the coach')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;insight;help;add' {
            break
        }
        'coachctl;insight;help;list' {
            break
        }
        'coachctl;insight;help;ack' {
            break
        }
        'coachctl;insight;help;help' {
            break
        }
        'coachctl;config' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;config;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'PostgreSQL URL to use instead of the embedded database')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Use the database of this profile of the config file ([profiles.NAME])')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Act as this user (email or id); without it, the operator acts as admin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: table (wide: every column) for people, json/csv/ids for scripts')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone to show times in (IANA name); default: the actor''s, else the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use color (NO_COLOR is respected)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail instead when something is missing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'coachctl;config;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;config;help;show' {
            break
        }
        'coachctl;config;help;help' {
            break
        }
        'coachctl;help' {
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'The database: start, stop, status, migrate, reset')
            [CompletionResult]::new('coach', 'coach', [CompletionResultType]::ParameterValue, 'Coaches: create, list, show, update, promote, deactivate')
            [CompletionResult]::new('member', 'member', [CompletionResultType]::ParameterValue, 'Members: create (signup), list, show, update, assign, onboarding, privacy')
            [CompletionResult]::new('availability', 'availability', [CompletionResultType]::ParameterValue, 'Weekly availability windows and blocked dates')
            [CompletionResult]::new('slots', 'slots', [CompletionResultType]::ParameterValue, 'Open slots of a coach, in the coach''s time zone')
            [CompletionResult]::new('book', 'book', [CompletionResultType]::ParameterValue, 'Book a slot (atomic: never overbooks)')
            [CompletionResult]::new('session', 'session', [CompletionResultType]::ParameterValue, 'Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind')
            [CompletionResult]::new('notify', 'notify', [CompletionResultType]::ParameterValue, 'The email outbox: list, send (cron), retry')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Named admins: create, list, remove')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The audit log: who changed what, when')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages for every command into a directory')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Seed a small realistic organisation and show it')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Declare an organisation from a TOML or JSON file: create what is missing (CI)')
            [CompletionResult]::new('invite', 'invite', [CompletionResultType]::ParameterValue, 'Invitations: send, list, accept, decline, revoke')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connections between coaches and members: request, respond, list, remove')
            [CompletionResult]::new('message', 'message', [CompletionResultType]::ParameterValue, 'Messages between a coach and their members: send, list')
            [CompletionResult]::new('program', 'program', [CompletionResultType]::ParameterValue, 'Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel')
            [CompletionResult]::new('insight', 'insight', [CompletionResultType]::ParameterValue, 'Coaching insights from a coach to their member: add, list, ack')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'The config file (~/.config/coachctl/config.toml): show the effective settings')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'coachctl;help;db' {
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Create and start the embedded database if needed, apply migrations (idempotent)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the embedded database')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the database lives, the server version and the schema version')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Apply pending schema migrations')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Drop all coachctl data and recreate the schema (asks first)')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Write a backup of coachctl''s database (pg_dump''s custom format) to FILE')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore a backup made by `db backup` into the embedded database')
            [CompletionResult]::new('upgrade', 'upgrade', [CompletionResultType]::ParameterValue, 'Move the embedded cluster to the installed PostgreSQL version')
            [CompletionResult]::new('destroy', 'destroy', [CompletionResultType]::ParameterValue, 'Stop the embedded database and remove it with all its data (asks first)')
            break
        }
        'coachctl;help;db;up' {
            break
        }
        'coachctl;help;db;down' {
            break
        }
        'coachctl;help;db;status' {
            break
        }
        'coachctl;help;db;migrate' {
            break
        }
        'coachctl;help;db;reset' {
            break
        }
        'coachctl;help;db;backup' {
            break
        }
        'coachctl;help;db;restore' {
            break
        }
        'coachctl;help;db;upgrade' {
            break
        }
        'coachctl;help;db;destroy' {
            break
        }
        'coachctl;help;coach' {
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'What a coach looks at first: today, this week, members, proposals, activity')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'One row per member and the coach''s utilisation a week (80 columns; -o json|csv)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a coach (admin only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List coaches')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a coach''s profile: member count, free capacity, ratings')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a coach''s profile (admin, or the coach themself)')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make an existing member a coach (admin only)')
            [CompletionResult]::new('deactivate', 'deactivate', [CompletionResultType]::ParameterValue, 'Deactivate a coach: they stop taking members and cannot act (admin only)')
            break
        }
        'coachctl;help;coach;dashboard' {
            break
        }
        'coachctl;help;coach;report' {
            break
        }
        'coachctl;help;coach;create' {
            break
        }
        'coachctl;help;coach;list' {
            break
        }
        'coachctl;help;coach;show' {
            break
        }
        'coachctl;help;coach;update' {
            break
        }
        'coachctl;help;coach;promote' {
            break
        }
        'coachctl;help;coach;deactivate' {
            break
        }
        'coachctl;help;member' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a member; with --coach this is signup with a coach choice')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List members (a coach sees their own, a member only themself)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one member')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a member''s profile; an empty text clears a field')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign a member to a coach (admin only)')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Remove a member''s coach (admin, or that coach)')
            [CompletionResult]::new('onboarding', 'onboarding', [CompletionResultType]::ParameterValue, 'Set onboarding status: pending, in_progress or completed')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'What a member looks at first: next session, the next three, their coach')
            [CompletionResult]::new('progress', 'progress', [CompletionResultType]::ParameterValue, 'Attendance, ratings, programs and sessions a week over the last 12 weeks')
            [CompletionResult]::new('sharing', 'sharing', [CompletionResultType]::ParameterValue, 'What the member''s coach sees: goals (default on) and health info (default off); without flags, shows the current settings')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Every assignment, unassignment and connection change, with when and who, and each coach relationship''s status (pending, active, inactive, terminated); a coach sees only their own period')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import a roster CSV (email,name[,goals,timezone,coach,membership_status]): every bad row is reported with its line and nothing is written, else all rows land in one transaction; a re-run changes nothing')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export members as a roster CSV that `member import` reads back (-o json for JSON); a coach exports their own members')
            [CompletionResult]::new('privacy', 'privacy', [CompletionResultType]::ParameterValue, 'Set who may find the member: public, connections or private')
            break
        }
        'coachctl;help;member;create' {
            break
        }
        'coachctl;help;member;list' {
            break
        }
        'coachctl;help;member;show' {
            break
        }
        'coachctl;help;member;update' {
            break
        }
        'coachctl;help;member;assign' {
            break
        }
        'coachctl;help;member;unassign' {
            break
        }
        'coachctl;help;member;onboarding' {
            break
        }
        'coachctl;help;member;dashboard' {
            break
        }
        'coachctl;help;member;progress' {
            break
        }
        'coachctl;help;member;sharing' {
            break
        }
        'coachctl;help;member;history' {
            break
        }
        'coachctl;help;member;import' {
            break
        }
        'coachctl;help;member;export' {
            break
        }
        'coachctl;help;member;privacy' {
            break
        }
        'coachctl;help;availability' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a weekly window, in the coach''s own time zone')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List weekly windows')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a window; refused while booked sessions would fall outside')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a window; refused while it has booked future sessions')
            [CompletionResult]::new('block', 'block', [CompletionResultType]::ParameterValue, 'Block a date or a range of dates (time off)')
            [CompletionResult]::new('unblock', 'unblock', [CompletionResultType]::ParameterValue, 'Remove blocked dates')
            [CompletionResult]::new('blocks', 'blocks', [CompletionResultType]::ParameterValue, 'List blocked dates')
            break
        }
        'coachctl;help;availability;add' {
            break
        }
        'coachctl;help;availability;list' {
            break
        }
        'coachctl;help;availability;update' {
            break
        }
        'coachctl;help;availability;remove' {
            break
        }
        'coachctl;help;availability;block' {
            break
        }
        'coachctl;help;availability;unblock' {
            break
        }
        'coachctl;help;availability;blocks' {
            break
        }
        'coachctl;help;slots' {
            break
        }
        'coachctl;help;book' {
            break
        }
        'coachctl;help;session' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List sessions (a member sees their own, a coach theirs)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Put a member into a session (a coach proposes, an admin schedules)')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept a proposed session (the member)')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline a proposed session (the member); its seat is free again')
            [CompletionResult]::new('reschedule', 'reschedule', [CompletionResultType]::ParameterValue, 'Move a session to another time, atomically (the member, the coach, an admin)')
            [CompletionResult]::new('complete', 'complete', [CompletionResultType]::ParameterValue, 'Mark a session that took place as completed (the coach, an admin)')
            [CompletionResult]::new('note', 'note', [CompletionResultType]::ParameterValue, 'Add a note to a session (--private: the coach''s own)')
            [CompletionResult]::new('rate', 'rate', [CompletionResultType]::ParameterValue, 'Rate a completed session, once (its member)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export sessions as an iCalendar feed (RFC 5545) that calendar clients import')
            [CompletionResult]::new('remind', 'remind', [CompletionResultType]::ParameterValue, 'Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one session')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a scheduled session; its slot is free again at once')
            break
        }
        'coachctl;help;session;list' {
            break
        }
        'coachctl;help;session;create' {
            break
        }
        'coachctl;help;session;accept' {
            break
        }
        'coachctl;help;session;decline' {
            break
        }
        'coachctl;help;session;reschedule' {
            break
        }
        'coachctl;help;session;complete' {
            break
        }
        'coachctl;help;session;note' {
            break
        }
        'coachctl;help;session;rate' {
            break
        }
        'coachctl;help;session;export' {
            break
        }
        'coachctl;help;session;remind' {
            break
        }
        'coachctl;help;session;show' {
            break
        }
        'coachctl;help;session;cancel' {
            break
        }
        'coachctl;help;notify' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the outbox, oldest first (admin)')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Deliver every due message over SMTP (admin; what cron runs)')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Queue failed messages again (admin)')
            break
        }
        'coachctl;help;notify;list' {
            break
        }
        'coachctl;help;notify;send' {
            break
        }
        'coachctl;help;notify;retry' {
            break
        }
        'coachctl;help;admin' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a named admin (admin only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List admins (admin only)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an admin: they can no longer act; the audit trail stays (admin only)')
            break
        }
        'coachctl;help;admin;create' {
            break
        }
        'coachctl;help;admin;list' {
            break
        }
        'coachctl;help;admin;remove' {
            break
        }
        'coachctl;help;audit' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List changes, last committed first (admin only)')
            break
        }
        'coachctl;help;audit;list' {
            break
        }
        'coachctl;help;doctor' {
            break
        }
        'coachctl;help;completions' {
            break
        }
        'coachctl;help;man' {
            break
        }
        'coachctl;help;demo' {
            break
        }
        'coachctl;help;seed' {
            break
        }
        'coachctl;help;invite' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Invite a person by email or an existing member; prints the code once (`-o ids` prints only the code). Codes expire after 7 days; a coach sends at most 10 per rolling 24 hours')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept an invitation: creates the member if needed and the connection')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline an invitation')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Withdraw a pending invitation (its coach or an admin)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List invitations: a coach''s own, a member''s received, all for admins')
            break
        }
        'coachctl;help;invite;send' {
            break
        }
        'coachctl;help;invite;accept' {
            break
        }
        'coachctl;help;invite;decline' {
            break
        }
        'coachctl;help;invite;revoke' {
            break
        }
        'coachctl;help;invite;list' {
            break
        }
        'coachctl;help;connect' {
            [CompletionResult]::new('request', 'request', [CompletionResultType]::ParameterValue, 'Ask to connect: a member names a coach, a coach a member. One open request per pair; after a decline, ask again after 30 days')
            [CompletionResult]::new('respond', 'respond', [CompletionResultType]::ParameterValue, 'Accept or decline a request (the side that was asked)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List your connections (all for admins)')
            [CompletionResult]::new('search', 'search', [CompletionResultType]::ParameterValue, 'Find people to connect with, honouring privacy: coaches find public members and connected ones; members find coaches accepting members')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'End a connection (either side); scheduled sessions stay')
            break
        }
        'coachctl;help;connect;request' {
            break
        }
        'coachctl;help;connect;respond' {
            break
        }
        'coachctl;help;connect;list' {
            break
        }
        'coachctl;help;connect;search' {
            break
        }
        'coachctl;help;connect;remove' {
            break
        }
        'coachctl;help;message' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to your coach or member (participants only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List your messages, unread first; listing marks them read')
            break
        }
        'coachctl;help;message;send' {
            break
        }
        'coachctl;help;message;list' {
            break
        }
        'coachctl;help;program' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a program (a coach''s own; an admin''s for --coach, or a template for all)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List programs (a coach sees their own and the admins'' templates)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a program, or an enrolment with its progress')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a program (its coach, an admin); enrolments keep their series')
            [CompletionResult]::new('archive', 'archive', [CompletionResultType]::ParameterValue, 'Archive a program: no new assignments; enrolments run on')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign a program to a member: every session of the series, or none')
            [CompletionResult]::new('accept', 'accept', [CompletionResultType]::ParameterValue, 'Accept a proposed series as a whole (the member)')
            [CompletionResult]::new('decline', 'decline', [CompletionResultType]::ParameterValue, 'Decline a proposed series as a whole (the member); its seats are free again')
            [CompletionResult]::new('adjust', 'adjust', [CompletionResultType]::ParameterValue, 'Move the rest of a series to new weekly times, or extend it (all or nothing)')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel every remaining session of a series; completed ones stay')
            break
        }
        'coachctl;help;program;create' {
            break
        }
        'coachctl;help;program;list' {
            break
        }
        'coachctl;help;program;show' {
            break
        }
        'coachctl;help;program;update' {
            break
        }
        'coachctl;help;program;archive' {
            break
        }
        'coachctl;help;program;assign' {
            break
        }
        'coachctl;help;program;accept' {
            break
        }
        'coachctl;help;program;decline' {
            break
        }
        'coachctl;help;program;adjust' {
            break
        }
        'coachctl;help;program;cancel' {
            break
        }
        'coachctl;help;insight' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Give a member an insight (their coach); the member gets a notice')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List insights (the pair''s own; unread first)')
            [CompletionResult]::new('ack', 'ack', [CompletionResultType]::ParameterValue, 'Acknowledge an insight (its member), optionally with an answer for the coach')
            break
        }
        'coachctl;help;insight;add' {
            break
        }
        'coachctl;help;insight;list' {
            break
        }
        'coachctl;help;insight;ack' {
            break
        }
        'coachctl;help;config' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective settings and where each came from (flag, env, file or default); passwords are masked')
            break
        }
        'coachctl;help;config;show' {
            break
        }
        'coachctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
