//! Users (argon2id password hashes) and API/session tokens (only their SHA-256 is stored).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entity::{api_token, user};
use crate::{
    Actor, ApiToken, Change, Role, Secret, Store, StoreError, User, find, map_unique, now,
};

/// Token kinds accepted by [`Store::create_token`].
pub const TOKEN_KINDS: &[&str] = &["api", "session"];

impl TryFrom<user::Model> for User {
    type Error = StoreError;
    fn try_from(m: user::Model) -> Result<Self, StoreError> {
        Ok(User {
            id: m.id,
            username: m.username,
            role: m
                .role
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("stored role {:?} is unknown", m.role)))?,
            disabled: m.disabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<api_token::Model> for ApiToken {
    fn from(m: api_token::Model) -> Self {
        ApiToken {
            id: m.id,
            user_id: m.user_id,
            name: m.name,
            kind: m.kind,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
        }
    }
}

fn validate_username(name: &str) -> Result<(), StoreError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'));
    if name.is_empty() || name.len() > 64 || !ok_chars {
        return Err(StoreError::invalid(
            "username",
            "must be 1-64 characters of A-Z a-z 0-9 _ . @ -",
        ));
    }
    Ok(())
}

fn validate_password(p: &Secret) -> Result<(), StoreError> {
    let n = p.expose().chars().count();
    if n < 8 {
        return Err(StoreError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    if n > 1024 {
        return Err(StoreError::invalid(
            "password",
            "must be at most 1024 characters",
        ));
    }
    Ok(())
}

/// Hashes on the blocking pool: argon2 takes tens of milliseconds of CPU by design.
async fn hash_password(p: &Secret) -> Result<String, StoreError> {
    let p = p.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(p.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Crypto(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Crypto(format!("password hashing task failed: {e}")))?
}

/// A hash of a random password, verified against for unknown users so that a login for a
/// missing account costs the same time as one for an existing account.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut pw = [0u8; 16];
    rand::rng().fill_bytes(&mut pw);
    Argon2::default()
        .hash_password(&pw)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

async fn verify_hash(hash: String, p: &Secret) -> bool {
    let p = p.clone();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).ok().is_some_and(|h| {
            Argon2::default()
                .verify_password(p.expose().as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

fn token_hash(plain: &str) -> String {
    hex::encode(Sha256::digest(plain.as_bytes()))
}

impl Store {
    pub async fn create_user(
        &self,
        actor: &Actor,
        username: &str,
        password: &Secret,
        role: Role,
    ) -> Result<User, StoreError> {
        let username = username.trim();
        validate_username(username)?;
        validate_password(password)?;
        let hash = hash_password(password).await?;
        let txn = self.db.begin().await?;
        if user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(StoreError::conflict(
                "username",
                "a user with this username exists",
            ));
        }
        let t = now();
        let m = user::ActiveModel {
            id: Set(Uuid::new_v4()),
            username: Set(username.to_string()),
            password_hash: Set(hash),
            role: Set(role.as_str().to_string()),
            disabled: Set(false),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(&txn)
        .await
        .map_err(|e| map_unique(e, "username", "a user with this username exists"))?;
        let u = User::try_from(m)?;
        Change::created("user.create", "user", u.id, &u)
            .commit(txn, actor, u)
            .await
    }

    pub async fn get_user(&self, id: Uuid) -> Result<User, StoreError> {
        find::<user::Entity, _>(&self.db, id, "user")
            .await?
            .try_into()
    }

    pub async fn user_by_username(&self, name: &str) -> Result<Option<User>, StoreError> {
        user::Entity::find()
            .filter(user::Column::Username.eq(name))
            .one(&self.db)
            .await?
            .map(User::try_from)
            .transpose()
    }

    /// The user if the password matches and the account is enabled. Unknown users cost a
    /// dummy verification, so response time does not reveal which usernames exist.
    pub async fn verify_password(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<User>, StoreError> {
        let found = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.db)
            .await?;
        let Some(m) = found else {
            let _ = verify_hash(DUMMY_HASH.clone(), password).await;
            return Ok(None);
        };
        if !verify_hash(m.password_hash.clone(), password).await || m.disabled {
            return Ok(None);
        }
        Ok(Some(m.try_into()?))
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sel = user::Entity::find().order_by_asc(user::Column::Username);
        crate::records(&self.db, sel).await
    }

    pub async fn count_users(&self) -> Result<u64, StoreError> {
        Ok(user::Entity::find().count(&self.db).await?)
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        id: Uuid,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User, StoreError> {
        let txn = self.db.begin().await?;
        let m = find::<user::Entity, _>(&txn, id, "user").await?;
        let before = User::try_from(m.clone())?;
        let mut am = m.into_active_model();
        if let Some(r) = role {
            am.role = Set(r.as_str().to_string());
        }
        if let Some(d) = disabled {
            am.disabled = Set(d);
        }
        am.updated_at = Set(now());
        let after = User::try_from(am.update(&txn).await?)?;
        Change::updated("user.update", "user", id, &before, &after)
            .commit(txn, actor, after)
            .await
    }

    pub async fn set_password(
        &self,
        actor: &Actor,
        id: Uuid,
        password: &Secret,
    ) -> Result<(), StoreError> {
        validate_password(password)?;
        let hash = hash_password(password).await?;
        let txn = self.db.begin().await?;
        let m = find::<user::Entity, _>(&txn, id, "user").await?;
        let mut am = m.into_active_model();
        am.password_hash = Set(hash);
        am.updated_at = Set(now());
        let u = User::try_from(am.update(&txn).await?)?;
        // Before/after are the public record: the hash is never written to the audit log.
        Change::created("user.set_password", "user", id, &u)
            .commit(txn, actor, ())
            .await
    }

    pub async fn delete_user(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<user::Entity, _>(
            actor,
            id,
            ("user", "user", "user.delete"),
            async |_, m| User::try_from(m),
        )
        .await
    }

    /// Creates a token for `user_id`; returns the record and the plain token, which is not
    /// stored anywhere (only its SHA-256) and must be shown to the user once.
    pub async fn create_token(
        &self,
        actor: &Actor,
        user_id: Uuid,
        name: &str,
        kind: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(ApiToken, String), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(StoreError::invalid("name", "must be 1-255 characters"));
        }
        if !TOKEN_KINDS.contains(&kind) {
            return Err(StoreError::invalid("kind", "must be api or session"));
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let plain = format!("wf_{}", hex::encode(raw));
        let txn = self.db.begin().await?;
        if user::Entity::find_by_id(user_id).one(&txn).await?.is_none() {
            return Err(StoreError::NotFound { entity: "user" });
        }
        let m = api_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id),
            name: Set(name.to_string()),
            kind: Set(kind.to_string()),
            token_hash: Set(token_hash(&plain)),
            created_at: Set(now()),
            expires_at: Set(expires_at.map(|t| chrono::SubsecRound::trunc_subsecs(t, 6))),
            last_used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let t = ApiToken::from(m);
        Change::created("token.create", "api_token", t.id, &t)
            .write(&txn, actor)
            .await?;
        txn.commit().await?;
        Ok((t, plain))
    }

    /// The token and its user, if the token exists, has not expired and the user is enabled.
    /// Records `last_used_at` at most once a minute (no write on every request).
    pub async fn authenticate_token(
        &self,
        plain: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        let Some(m) = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(token_hash(plain)))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let t = now();
        if m.expires_at.is_some_and(|e| e <= t) {
            return Ok(None);
        }
        let Some(u) = user::Entity::find_by_id(m.user_id).one(&self.db).await? else {
            return Ok(None);
        };
        if u.disabled {
            return Ok(None);
        }
        let mut tok = m.clone();
        if m.last_used_at
            .is_none_or(|l| t - l >= chrono::Duration::seconds(60))
        {
            let mut am = m.into_active_model();
            am.last_used_at = Set(Some(t));
            tok = am.update(&self.db).await?;
        }
        Ok(Some((tok.into(), u.try_into()?)))
    }

    pub async fn list_tokens(&self, user_id: Uuid) -> Result<Vec<ApiToken>, StoreError> {
        let sel = api_token::Entity::find()
            .filter(api_token::Column::UserId.eq(user_id))
            .order_by_asc(api_token::Column::CreatedAt);
        crate::records(&self.db, sel).await
    }

    pub async fn get_token(&self, id: Uuid) -> Result<ApiToken, StoreError> {
        Ok(find::<api_token::Entity, _>(&self.db, id, "api_token")
            .await?
            .into())
    }

    pub async fn delete_token(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<api_token::Entity, _>(
            actor,
            id,
            ("api_token", "api_token", "token.delete"),
            async |_, m| Ok(ApiToken::from(m)),
        )
        .await
    }
}
