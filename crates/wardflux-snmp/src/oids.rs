//! OID library.
use crate::types::Oid;
pub struct Def {
    pub arcs: &'static [u32],
}
impl Def {
    pub fn oid(&self) -> Oid {
        Oid::from_arcs(self.arcs)
    }
}
pub const SYS_DESCR: Def = Def {
    arcs: &[1, 3, 6, 1, 2, 1, 1, 1, 0],
};
pub const SYS_OBJECT_ID: Def = Def {
    arcs: &[1, 3, 6, 1, 2, 1, 1, 2, 0],
};
pub const SYS_UPTIME: Def = Def {
    arcs: &[1, 3, 6, 1, 2, 1, 1, 3, 0],
};
