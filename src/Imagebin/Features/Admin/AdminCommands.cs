using System.Globalization;
using Imagebin.Features.Accounts;

namespace Imagebin.Features.Admin;

/// <summary>
/// Admin commands run through the same binary (DESIGN.md §3): <c>accounts create</c>, <c>accounts ban</c>/<c>unban</c>, <c>keys create</c>, <c>keys revoke</c>,
/// <c>placeholders backfill</c>.
/// Each prints its result on the last line of stdout and exits non-zero on error.
/// </summary>
public static class AdminCommands
{
    public const string Usage = """
        Usage:
          accounts create <name> [--admin] [--password PW]
          accounts ban <name> --reason TEXT
          accounts unban <name> --reason TEXT
          keys create --account <name> --scopes image:create,image:read,image:delete[,admin] [--audience URL] [--expires 30d]
          keys revoke <key-id>
          migrate
          migrate-store --from-data-dir <dir> [--from-blobs <dir>]
          captions run (--all | --state failed,ready,… | --items id,id,…) [--account <name>]
          placeholders backfill
        """;

    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "accounts" or "keys" or "migrate" or "migrate-store" or "captions" or "placeholders";

    /// <summary><c>migrate</c> applies the schema even with <c>Database:MigrateOnStart=false</c>.</summary>
    public static bool IsMigrate(string[] args) => args.Length > 0 && args[0] is "migrate" or "migrate-store";

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter errors)
    {
        await using var scope = services.CreateAsyncScope();
        try
        {
            var singleWord = args[0] is "migrate" or "migrate-store";
            var options = Options.Parse(args.Skip(singleWord ? 1 : 2));
            switch (args.ElementAtOrDefault(0), singleWord ? null : args.ElementAtOrDefault(1))
            {
                case ("migrate", null):
                {
                    // InitializeDataAsync has applied what was pending before this runs.
                    var database = scope.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Data.DatabaseOptions>>().Value;
                    var applied = await Data.SchemaMigrator.AppliedAsync(scope.ServiceProvider.GetRequiredService<Data.ImagebinDb>(), database.Provider, CancellationToken.None);
                    output.WriteLine($"The {database.Provider} schema is at version {applied.DefaultIfEmpty(0).Max():0000}.");
                    return 0;
                }

                case ("migrate-store", null):
                {
                    var from = options.Get("from-data-dir") ?? throw new ArgumentException("Name the embedded store to copy from: --from-data-dir <dir>.");
                    var report = await scope.ServiceProvider.GetRequiredService<StoreMigration>()
                        .RunAsync(from, options.Get("from-blobs"), output, CancellationToken.None);
                    output.WriteLine(report.ToString());
                    return report.Failures == 0 ? 0 : 1;
                }

                case ("accounts", "create"):
                {
                    var name = options.Positional.SingleOrDefault() ?? throw new ArgumentException("Name the account: accounts create <name>.");
                    var created = await scope.ServiceProvider.GetRequiredService<AccountService>()
                        .CreateAsync(name, options.Flags.Contains("admin"), options.Get("password"), CancellationToken.None);
                    output.WriteLine($"Created {created.Account.Role} account '{created.Account.Name}' ({created.Account.Id}).");
                    output.WriteLine(created.OneTimePassword is null ? "The account signs in with the password given." : $"One-time password: {created.OneTimePassword}");
                    return 0;
                }

                case ("accounts", "ban" or "unban"):
                {
                    var verb = args[1];
                    var name = options.Positional.SingleOrDefault() ?? throw new ArgumentException($"Name the account: accounts {verb} <name> --reason TEXT.");
                    var account = await scope.ServiceProvider.GetRequiredService<AccountService>().FindByNameAsync(name, CancellationToken.None)
                        ?? throw new ArgumentException($"No account named '{name}'.");
                    var (changed, error) = await scope.ServiceProvider.GetRequiredService<Moderation.AccountBans>()
                        .SetBannedAsync(account.Id, verb == "ban", new Moderation.AccountBanRequest { Reason = options.Get("reason") }, actorId: null, CancellationToken.None);
                    if (error is not null)
                    {
                        throw new ArgumentException(error.Detail);
                    }

                    output.WriteLine($"Account '{changed!.Name}' ({changed.Id}) is {(changed.Banned ? "banned: its keys are refused and its sessions ended" : "not banned")}.");
                    return 0;
                }

                case ("keys", "create"):
                {
                    var accountName = options.Get("account") ?? throw new ArgumentException("Name the account: --account <name>.");
                    var account = await scope.ServiceProvider.GetRequiredService<AccountService>().FindByNameAsync(accountName, CancellationToken.None)
                        ?? throw new ArgumentException($"No account named '{accountName}'.");
                    var scopes = (options.Get("scopes") ?? throw new ArgumentException("Give the scopes: --scopes image:create,image:read,image:delete."))
                        .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    var lifetime = options.Get("expires") is { } expires ? ParseDuration(expires) : (TimeSpan?)null;
                    var created = await scope.ServiceProvider.GetRequiredService<ApiKeys>()
                        .CreateAsync(account.Id, scopes, options.Get("audience"), lifetime, CancellationToken.None);
                    output.WriteLine($"Key {created.Key.Id} for '{account.Name}': scopes {created.Key.Scopes}, audience {created.Key.Audience}, " +
                        (created.Key.ExpiresAt is { } at ? $"expires {DateTimeOffset.FromUnixTimeMilliseconds(at):u}." : "no expiry."));
                    output.WriteLine("Store it now: it is shown only once.");
                    output.WriteLine(created.Token);
                    return 0;
                }

                case ("keys", "revoke"):
                {
                    var keyId = options.Positional.SingleOrDefault() ?? throw new ArgumentException("Name the key: keys revoke <key-id>.");
                    if (!await scope.ServiceProvider.GetRequiredService<ApiKeys>().RevokeAsync(keyId, CancellationToken.None))
                    {
                        throw new ArgumentException($"No active key '{keyId}'.");
                    }

                    output.WriteLine($"Revoked key {keyId}.");
                    return 0;
                }

                case ("captions", "run"):
                {
                    var states = options.Get("state")?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    var ids = options.Get("items")?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    if (!options.Flags.Contains("all") && states is null && ids is null)
                    {
                        throw new ArgumentException("Say which items: --all, --state failed,ready,… or --items id,id,….");
                    }

                    string[] known = [Data.AiCaptionState.Pending, Data.AiCaptionState.Processing, Data.AiCaptionState.Ready, Data.AiCaptionState.Failed, Data.AiCaptionState.Skipped];
                    if (states?.Except(known).FirstOrDefault() is { } unknown)
                    {
                        throw new ArgumentException($"Unknown caption state '{unknown}'; one of {string.Join(", ", known)} (opted-out items are never captioned).");
                    }

                    string? ownerId = null;
                    if (options.Get("account") is { } accountName)
                    {
                        ownerId = (await scope.ServiceProvider.GetRequiredService<AccountService>().FindByNameAsync(accountName, CancellationToken.None)
                            ?? throw new ArgumentException($"No account named '{accountName}'.")).Id;
                    }

                    var queued = await scope.ServiceProvider.GetRequiredService<Captions.CaptionBatch>()
                        .QueueAsync(new Captions.CaptionBatch.Selection(ids, states, ownerId), output, CancellationToken.None);
                    output.WriteLine($"Queued {queued} items for captioning; workers take them from the job queue.");
                    return 0;
                }

                case ("placeholders", "backfill"):
                {
                    // What the maintenance sweep does 200 at a time, all at once (images scanned before placeholders existed).
                    var result = await scope.ServiceProvider.GetRequiredService<Media.PlaceholderBackfill>()
                        .RunAllAsync(scope.ServiceProvider.GetRequiredService<Data.ImagebinDb>(), CancellationToken.None);
                    output.WriteLine($"Made {result.Made} placeholders; {result.Failed} images could not be read or decoded.");
                    return 0;
                }

                default:
                    throw new ArgumentException($"Unknown command '{string.Join(' ', args.Take(2))}'.");
            }
        }
        catch (ArgumentException exception)
        {
            errors.WriteLine(Usage);
            errors.WriteLine($"error: {exception.Message}");
            return 2;
        }
    }

    /// <summary>Durations like <c>30d</c>, <c>12h</c>, <c>90m</c>, <c>3600s</c>.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        if (text.Length >= 2 && long.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var amount) && amount > 0)
        {
            switch (text[^1])
            {
                case 'd': return TimeSpan.FromDays(amount);
                case 'h': return TimeSpan.FromHours(amount);
                case 'm': return TimeSpan.FromMinutes(amount);
                case 's': return TimeSpan.FromSeconds(amount);
            }
        }

        throw new ArgumentException($"'{text}' is not a duration like 30d, 12h, 90m or 3600s.");
    }

    private sealed record Options(List<string> Positional, Dictionary<string, string> Values, HashSet<string> Flags)
    {
        private static readonly HashSet<string> KnownFlags = ["admin", "all"];

        public string? Get(string name) => Values.GetValueOrDefault(name);

        public static Options Parse(IEnumerable<string> args)
        {
            var result = new Options([], [], []);
            using var enumerator = args.GetEnumerator();
            while (enumerator.MoveNext())
            {
                var arg = enumerator.Current;
                if (!arg.StartsWith("--", StringComparison.Ordinal))
                {
                    result.Positional.Add(arg);
                    continue;
                }

                var name = arg[2..];
                if (KnownFlags.Contains(name))
                {
                    result.Flags.Add(name);
                }
                else if (enumerator.MoveNext())
                {
                    result.Values[name] = enumerator.Current;
                }
                else
                {
                    throw new ArgumentException($"--{name} needs a value.");
                }
            }

            return result;
        }
    }
}
