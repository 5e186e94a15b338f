//! SNMP credentials: communities and v3 keys are stored only as Fernet tokens; the public
//! record carries `has_*` flags instead. Only [`Store::snmp_secrets`] decrypts, for the
//! poller.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use uuid::Uuid;
use wardflux_model::InventoryEvent;
use wardflux_model::inventory::SnmpVersion;

use crate::entity::{device, snmp_credential};
use crate::{
    Actor, Change, Cipher, SnmpCredential, SnmpCredentialInput, SnmpSecrets, Store, StoreError,
    find, now,
};

fn version_to_db(v: SnmpVersion) -> &'static str {
    match v {
        SnmpVersion::V1 => "v1",
        SnmpVersion::V2c => "v2c",
        SnmpVersion::V3 => "v3",
    }
}

impl TryFrom<snmp_credential::Model> for SnmpCredential {
    type Error = StoreError;
    fn try_from(m: snmp_credential::Model) -> Result<Self, StoreError> {
        fn parse<T: std::str::FromStr>(v: Option<String>) -> Result<Option<T>, StoreError>
        where
            T::Err: std::fmt::Display,
        {
            v.map(|s| {
                s.parse::<T>()
                    .map_err(|e| StoreError::Corrupt(format!("stored credential: {e}")))
            })
            .transpose()
        }
        let version = parse::<SnmpVersion>(Some(m.version))?.unwrap_or(SnmpVersion::V2c);
        Ok(SnmpCredential {
            id: m.id,
            name: m.name,
            device_id: m.device_id,
            version,
            username: m.username,
            security_level: parse(m.security_level)?,
            auth_protocol: parse(m.auth_protocol)?,
            priv_protocol: parse(m.priv_protocol)?,
            context: m.context,
            has_community: m.community_encrypted.is_some(),
            has_auth_key: m.auth_key_encrypted.is_some(),
            has_priv_key: m.priv_key_encrypted.is_some(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// Stores a validated credential on `conn` (the caller's transaction), its secrets encrypted
/// with `cipher`, with its audit row. A device-bound credential without a name is named after
/// the device. The caller publishes `CredentialsChanged` after commit.
pub(crate) async fn insert_credential<C: sea_orm::ConnectionTrait>(
    conn: &C,
    cipher: &Cipher,
    actor: &Actor,
    mut input: SnmpCredentialInput,
) -> Result<SnmpCredential, StoreError> {
    let enc = |s: &Option<wardflux_model::inventory::Secret>| {
        s.as_ref().map(|s| cipher.encrypt(s.expose()))
    };
    if let Some(d) = input.device_id {
        let Some(dev) = device::Entity::find_by_id(d).one(conn).await? else {
            return Err(StoreError::invalid("device_id", "no device with this id"));
        };
        if input.name.is_empty() {
            let v = version_to_db(input.version.unwrap_or(SnmpVersion::V2c));
            input.name = format!("{} ({v})", dev.name);
        }
    }
    let t = now();
    let m = snmp_credential::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(input.name.clone()),
        device_id: Set(input.device_id),
        version: Set(version_to_db(input.version.unwrap_or(SnmpVersion::V2c)).to_string()),
        community_encrypted: Set(enc(&input.community)),
        username: Set(input.username.as_ref().map(|u| u.trim().to_string())),
        security_level: Set(input.security_level.map(|l| l.as_str().to_owned())),
        auth_protocol: Set(input.auth_protocol.map(|p| p.as_str().to_owned())),
        auth_key_encrypted: Set(enc(&input.auth_key)),
        priv_protocol: Set(input.priv_protocol.map(|p| p.as_str().to_owned())),
        priv_key_encrypted: Set(enc(&input.priv_key)),
        context: Set(input.context.clone().filter(|c| !c.is_empty())),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(conn)
    .await?;
    let c = SnmpCredential::try_from(m)?;
    Change::created("snmp_credential.create", "snmp_credential", c.id, &c)
        .write(conn, actor)
        .await?;
    Ok(c)
}

impl Store {
    pub async fn create_snmp_credential(
        &self,
        actor: &Actor,
        mut input: SnmpCredentialInput,
    ) -> Result<SnmpCredential, StoreError> {
        input.validate()?;
        let txn = self.db.begin().await?;
        let c = insert_credential(&txn, &self.cipher(), actor, input).await?;
        txn.commit().await?;
        self.publish(InventoryEvent::CredentialsChanged(c.device_id));
        Ok(c)
    }

    pub async fn list_snmp_credentials(&self) -> Result<Vec<SnmpCredential>, StoreError> {
        let sel = snmp_credential::Entity::find()
            .order_by_asc(snmp_credential::Column::Name)
            .order_by_asc(snmp_credential::Column::Id);
        crate::records(&self.db, sel).await
    }

    pub async fn get_snmp_credential(&self, id: Uuid) -> Result<SnmpCredential, StoreError> {
        find::<snmp_credential::Entity, _>(&self.db, id, "SNMP credential")
            .await?
            .try_into()
    }

    /// The credential to poll a device with: the newest one bound to the device, else the
    /// newest global one (no device), else `None`.
    pub async fn snmp_credential_for_device(
        &self,
        device_id: Uuid,
    ) -> Result<Option<SnmpCredential>, StoreError> {
        let own = snmp_credential::Entity::find()
            .filter(snmp_credential::Column::DeviceId.eq(device_id))
            .order_by_desc(snmp_credential::Column::CreatedAt)
            .one(&self.db)
            .await?;
        let m = match own {
            Some(m) => Some(m),
            None => {
                snmp_credential::Entity::find()
                    .filter(snmp_credential::Column::DeviceId.is_null())
                    .order_by_desc(snmp_credential::Column::CreatedAt)
                    .one(&self.db)
                    .await?
            }
        };
        m.map(SnmpCredential::try_from).transpose()
    }

    /// Decrypts a credential's secrets for the poller. Never expose the result in an API.
    pub async fn snmp_secrets(&self, id: Uuid) -> Result<SnmpSecrets, StoreError> {
        let m = find::<snmp_credential::Entity, _>(&self.db, id, "SNMP credential").await?;
        let cipher = self.cipher();
        let dec = |t: &Option<String>| t.as_deref().map(|t| cipher.decrypt(t)).transpose();
        Ok(SnmpSecrets {
            community: dec(&m.community_encrypted)?,
            auth_key: dec(&m.auth_key_encrypted)?,
            priv_key: dec(&m.priv_key_encrypted)?,
        })
    }

    pub async fn delete_snmp_credential(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<snmp_credential::Entity, _>(
            actor,
            id,
            (
                "SNMP credential",
                "snmp_credential",
                "snmp_credential.delete",
            ),
            async |_, m| SnmpCredential::try_from(m),
        )
        .await?;
        self.publish(InventoryEvent::CredentialsChanged(None));
        Ok(())
    }
}

impl Store {
    /// Full update of a credential. A secret left out of `input` (`None`) keeps its stored
    /// value, so a configuration imported without its secrets does not erase them.
    pub async fn update_snmp_credential(
        &self,
        actor: &Actor,
        id: Uuid,
        mut input: SnmpCredentialInput,
    ) -> Result<SnmpCredential, StoreError> {
        let cipher = self.cipher();
        let txn = self.db.begin().await?;
        let m = find::<snmp_credential::Entity, _>(&txn, id, "SNMP credential").await?;
        let dec = |t: &Option<String>| t.as_deref().map(|t| cipher.decrypt(t)).transpose();
        let stored = SnmpSecrets {
            community: dec(&m.community_encrypted)?,
            auth_key: dec(&m.auth_key_encrypted)?,
            priv_key: dec(&m.priv_key_encrypted)?,
        };
        let v3 = input.version == Some(SnmpVersion::V3);
        if !v3 && input.community.is_none() {
            input.community = stored.community;
        }
        if v3 {
            let level = input.security_level;
            if input.auth_key.is_none() && level.is_none_or(|l| l.has_auth()) {
                input.auth_key = stored.auth_key;
            }
            if input.priv_key.is_none() && level.is_none_or(|l| l.has_priv()) {
                input.priv_key = stored.priv_key;
            }
        }
        input.validate()?;
        if let Some(d) = input.device_id
            && device::Entity::find_by_id(d).one(&txn).await?.is_none()
        {
            return Err(StoreError::invalid("device_id", "no device with this id"));
        }
        let before = SnmpCredential::try_from(m.clone())?;
        let enc = |s: &Option<wardflux_model::inventory::Secret>| {
            s.as_ref().map(|s| cipher.encrypt(s.expose()))
        };
        let mut am: snmp_credential::ActiveModel = m.into();
        if !input.name.is_empty() {
            am.name = Set(input.name.clone());
        }
        am.device_id = Set(input.device_id);
        am.version = Set(version_to_db(input.version.unwrap_or(SnmpVersion::V2c)).to_string());
        am.community_encrypted = Set(enc(&input.community));
        am.username = Set(input.username.as_ref().map(|u| u.trim().to_string()));
        am.security_level = Set(input.security_level.map(|l| l.as_str().to_owned()));
        am.auth_protocol = Set(input.auth_protocol.map(|p| p.as_str().to_owned()));
        am.auth_key_encrypted = Set(enc(&input.auth_key));
        am.priv_protocol = Set(input.priv_protocol.map(|p| p.as_str().to_owned()));
        am.priv_key_encrypted = Set(enc(&input.priv_key));
        am.context = Set(input.context.clone().filter(|c| !c.is_empty()));
        am.updated_at = Set(now());
        let after = SnmpCredential::try_from(am.update(&txn).await?)?;
        Change::updated(
            "snmp_credential.update",
            "snmp_credential",
            id,
            &before,
            &after,
        )
        .write(&txn, actor)
        .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::CredentialsChanged(after.device_id));
        Ok(after)
    }
}
