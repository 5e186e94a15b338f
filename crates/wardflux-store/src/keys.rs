//! Encryption key rotation: every stored secret re-encrypted in one transaction.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};

use crate::discovery::schema::{
    result as discovery_result, rule as discovery_rule, run as discovery_run,
};
use crate::entity::{notification_channel, snmp_credential};
use crate::{Actor, Change, Cipher, Store, StoreError};

impl Store {
    /// Re-encrypts every stored secret under `new` in one transaction, then makes `new` the
    /// store's key. Returns how many secret values were re-encrypted. If any secret does not
    /// decrypt with the current key, nothing changes.
    pub async fn rotate_key(&self, actor: &Actor, new: Cipher) -> Result<u64, StoreError> {
        let old = self.cipher();
        let re = |t: &Option<String>| -> Result<Option<String>, StoreError> {
            t.as_deref()
                .map(|t| old.decrypt(t).map(|p| new.encrypt(p.expose())))
                .transpose()
        };
        let txn = self.db.begin().await?;
        let mut n = 0u64;
        for m in snmp_credential::Entity::find().all(&txn).await? {
            let (c, a, p) = (
                re(&m.community_encrypted)?,
                re(&m.auth_key_encrypted)?,
                re(&m.priv_key_encrypted)?,
            );
            n += [&c, &a, &p].iter().filter(|v| v.is_some()).count() as u64;
            let mut am = m.into_active_model();
            am.community_encrypted = Set(c);
            am.auth_key_encrypted = Set(a);
            am.priv_key_encrypted = Set(p);
            am.update(&txn).await?;
        }
        for m in notification_channel::Entity::find().all(&txn).await? {
            let s = re(&m.secret_config_encrypted)?;
            n += u64::from(s.is_some());
            let mut am = m.into_active_model();
            am.secret_config_encrypted = Set(s);
            am.update(&txn).await?;
        }
        for m in discovery_rule::Entity::find()
            .filter(discovery_rule::Column::CredentialsEncrypted.is_not_null())
            .all(&txn)
            .await?
        {
            let s = re(&m.credentials_encrypted)?;
            n += u64::from(s.is_some());
            let mut am = m.into_active_model();
            am.credentials_encrypted = Set(s);
            am.update(&txn).await?;
        }
        for m in discovery_run::Entity::find()
            .filter(discovery_run::Column::CandidatesEncrypted.is_not_null())
            .all(&txn)
            .await?
        {
            let s = re(&m.candidates_encrypted)?;
            n += u64::from(s.is_some());
            let mut am = m.into_active_model();
            am.candidates_encrypted = Set(s);
            am.update(&txn).await?;
        }
        for m in discovery_result::Entity::find()
            .filter(discovery_result::Column::CredentialEncrypted.is_not_null())
            .all(&txn)
            .await?
        {
            let s = re(&m.credential_encrypted)?;
            n += u64::from(s.is_some());
            let mut am = m.into_active_model();
            am.credential_encrypted = Set(s);
            am.update(&txn).await?;
        }
        n += Store::reencrypt_zabbix(&txn, &re).await?;
        Change {
            action: "keys.rotate",
            entity: "encryption_key",
            entity_id: None,
            before: None,
            after: Some(serde_json::json!({ "reencrypted": n })),
        }
        .commit(txn, actor, ())
        .await?;
        self.set_cipher(new);
        Ok(n)
    }
}
