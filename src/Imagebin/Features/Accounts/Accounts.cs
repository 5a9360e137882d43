using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Accounts;

/// <summary>Creating accounts; passwords are hashed with ASP.NET Core Identity's PBKDF2 hasher (600k+ iterations in v3 format).</summary>
public sealed class AccountService(ImagebinDb db, TimeProvider time)
{
    private static readonly PasswordHasher<Account> Hasher = new();

    public sealed record Created(Account Account, string? OneTimePassword);

    public async Task<Created> CreateAsync(string name, bool admin, string? password, CancellationToken cancellationToken)
    {
        if (name.Length is < 1 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException("Account names are 1-64 characters of letters, digits, '-', '_' and '.'.");
        }

        if (await db.Accounts.AnyAsync(a => a.Name == name, cancellationToken))
        {
            throw new ArgumentException($"An account named '{name}' already exists.");
        }

        var oneTime = password is null ? Ids.RandomBase62(20) : null;
        var account = new Account
        {
            Id = Ids.RandomBase62(12),
            Name = name,
            Role = admin ? AccountRoles.Admin : AccountRoles.User,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        account.PasswordHash = Hasher.HashPassword(account, password ?? oneTime!);
        db.Accounts.Add(account);
        await db.SaveChangesAsync(cancellationToken);
        return new Created(account, oneTime);
    }

    /// <summary>Hashed once at start-up: an unknown name costs the same hashing as a known one, so timing does not tell which exist.</summary>
    private static readonly string DummyHash = Hasher.HashPassword(new Account { Id = "", Name = "" }, "not a password");

    public enum SignInOutcome
    {
        Success,
        Failed,
        Banned,
    }

    /// <summary>Checks a name and password; rehashes a password stored with older parameters.</summary>
    public async Task<(SignInOutcome Outcome, Account? Account)> VerifyPasswordAsync(string name, string password, CancellationToken cancellationToken)
    {
        var account = await db.Accounts.FirstOrDefaultAsync(a => a.Name == name, cancellationToken);
        var result = Hasher.VerifyHashedPassword(account ?? new Account { Id = "", Name = "" }, account?.PasswordHash ?? DummyHash, password);
        if (account?.PasswordHash is null || result == PasswordVerificationResult.Failed)
        {
            return (SignInOutcome.Failed, null);
        }

        if (account.Banned)
        {
            return (SignInOutcome.Banned, null);
        }

        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            account.PasswordHash = Hasher.HashPassword(account, password);
            await db.SaveChangesAsync(cancellationToken);
        }

        return (SignInOutcome.Success, account);
    }

    public Task<Account?> FindByNameAsync(string name, CancellationToken cancellationToken) =>
        db.Accounts.FirstOrDefaultAsync(a => a.Name == name, cancellationToken);
}
