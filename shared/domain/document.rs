use super::coded_enum;

coded_enum! {
    /// A proof-of-delivery document kind, by its Nexus attachment type code.
    DocumentKind, what = "document kind" {
        /// Digital signature captured at delivery, with the signatory's name.
        Mpod = "MPOD",
        /// Image of the signed delivery note.
        Pod = "POD",
        /// Photo of the pallets at the delivery location.
        PalletPhoto = "MPODPHOTOE",
    }
}

impl DocumentKind {
    /// The Nexus `consignmentAttachmentTypes` id.
    pub fn nexus_attachment_type_id(self) -> u32 {
        match self {
            DocumentKind::Mpod => 1,
            DocumentKind::Pod => 2,
            DocumentKind::PalletPhoto => 3,
        }
    }

    /// The Qargo document type the same evidence is filed under.
    pub fn qargo_document_type(self) -> &'static str {
        match self {
            DocumentKind::Mpod => "CONSIGNEE_SIGNATURE",
            DocumentKind::Pod => "PROOF_OF_DELIVERY_SIGNED",
            DocumentKind::PalletPhoto => "PHOTO_OF_GOODS_DELIVERY",
        }
    }

    /// The kind of a Qargo document type, if it is one we exchange with Nexus.
    pub fn from_qargo_document_type(document_type: &str) -> Option<DocumentKind> {
        DocumentKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.qargo_document_type().eq_ignore_ascii_case(document_type.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_qargo_document_type(kind.qargo_document_type()), Some(*kind));
            assert_eq!(kind.code().parse::<DocumentKind>().unwrap(), *kind);
        }
        assert_eq!(DocumentKind::from_qargo_document_type("INVOICE"), None);
        assert_eq!(DocumentKind::PalletPhoto.code(), "MPODPHOTOE");
        assert_eq!(DocumentKind::Mpod.nexus_attachment_type_id(), 1);
    }
}
