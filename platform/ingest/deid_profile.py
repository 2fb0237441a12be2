"""The attribute tables of our de-identification: PS3.15 Table E.1-1 and our allow-lists.

Neither pydicom nor highdicom (both in our venv) ships the Basic Profile's action table,
so it is encoded here from the standard, by keyword so that a reader can check each row
against PS3.15 Table E.1-1. A row's action is the Basic Profile's; where the table offers
a choice (X/Z, X/Z/D...) the strictest applicable one is recorded.

The engine (ingest.deidentify) does not keep an attribute because the table omits it: it
keeps only what the allow-lists below name (plus numeric and UID attributes by VR, see
the rules there), so an attribute the table was never taught about is still removed.
The table is used to (1) remove the numeric attributes it lists, which the numeric rule
would otherwise keep, (2) check that no allow-list keeps what the profile removes, unless
one of our options says so, and (3) write the conformance table in
docs/deidentification.md.
"""

from __future__ import annotations

from functools import lru_cache

from pydicom.datadict import dictionary_VR, tag_for_keyword

# Basic Profile actions (PS3.15 E.3.1): X remove, Z empty, D dummy, K keep, C clean, U new UID.
X, Z, D, K, C, U = "X", "Z", "D", "K", "C", "U"

# Keyword -> Basic Profile action, from PS3.15 Table E.1-1 (strictest choice of a row).
_E1_1 = """
AccessionNumber Z
AcquisitionComments X
AcquisitionContextSequence X
AcquisitionDate Z
AcquisitionDateTime X
AcquisitionDeviceProcessingDescription X
AcquisitionProtocolDescription X
AcquisitionTime Z
ActualHumanPerformersSequence X
AdditionalPatientHistory X
AdmissionID X
AdmittingDate X
AdmittingDiagnosesCodeSequence X
AdmittingDiagnosesDescription X
AdmittingTime X
AffectedSOPInstanceUID X
Allergies X
AuthorObserverSequence X
BranchOfService X
CassetteID X
CommentsOnThePerformedProcedureStep X
ConcatenationUID U
ConfidentialityConstraintOnPatientDataDescription X
ConsultingPhysicianIdentificationSequence X
ConsultingPhysicianName X
ContentCreatorIdentificationCodeSequence X
ContentCreatorName Z
ContentDate Z
ContentSequence X
ContentTime Z
ContextGroupExtensionCreatorUID U
ContrastBolusAgent Z
ContributionDescription X
CountryOfResidence X
CreatorVersionUID U
CurrentPatientLocation X
CustodialOrganizationSequence X
DataSetTrailingPadding X
DerivationDescription X
DetectorID X
DeviceSerialNumber X
DeviceUID U
DigitalSignatureUID X
DigitalSignaturesSequence X
DimensionOrganizationUID U
DischargeDiagnosisDescription X
DistributionAddress X
DistributionName X
DoseReferenceUID U
EndAcquisitionDateTime X
EthnicGroup X
ExpectedCompletionDateTime X
FailedSOPInstanceUIDList U
FiducialUID U
FillerOrderNumberImagingServiceRequest Z
FrameComments X
FrameOfReferenceUID U
GantryID X
GeneratorID X
HumanPerformerName X
HumanPerformerOrganization X
IconImageSequence X
IdentifyingComments X
ImageComments X
ImagePresentationComments X
ImagingServiceRequestComments X
Impressions X
InstanceCoercionDateTime X
InstanceCreatorUID U
InstitutionAddress X
InstitutionCodeSequence X
InstitutionName X
InstitutionalDepartmentName X
InstitutionalDepartmentTypeCodeSequence X
InsurancePlanIdentification X
IntendedRecipientsOfResultsIdentificationSequence X
InterpretationApproverSequence X
InterpretationAuthor X
InterpretationDiagnosisDescription X
InterpretationIDIssuer X
InterpretationRecorder X
InterpretationText X
InterpretationTranscriber X
IrradiationEventUID U
IssuerOfAdmissionID X
IssuerOfAdmissionIDSequence X
IssuerOfPatientID X
IssuerOfServiceEpisodeID X
LargePaletteColorLookupTableUID U
LastMenstrualDate X
MAC X
MediaStorageSOPInstanceUID U
MedicalAlerts X
MedicalRecordLocator X
MilitaryRank X
ModifiedAttributesSequence X
ModifiedImageDescription X
ModifyingDeviceID X
NameOfPhysiciansReadingStudy X
NamesOfIntendedRecipientsOfResults X
ObservationUID U
Occupation X
OperatorIdentificationSequence X
OperatorsName X
OrderCallbackPhoneNumber X
OrderCallbackTelecomInformation X
OrderEnteredBy X
OrderEntererLocation X
OriginalAttributesSequence X
OtherPatientIDs X
OtherPatientIDsSequence X
OtherPatientNames X
PaletteColorLookupTableUID U
ParticipantSequence X
PatientAddress X
PatientAge X
PatientBirthDate Z
PatientBirthName X
PatientBirthTime X
PatientComments X
PatientID Z
PatientInstitutionResidence X
PatientInsurancePlanCodeSequence X
PatientMotherBirthName X
PatientName Z
PatientPrimaryLanguageCodeSequence X
PatientPrimaryLanguageModifierCodeSequence X
PatientReligiousPreference X
PatientSex Z
PatientSexNeutered X
PatientSize X
PatientState X
PatientTelecomInformation X
PatientTelephoneNumbers X
PatientTransportArrangements X
PatientWeight X
PerformedLocation X
PerformedProcedureStepDescription X
PerformedProcedureStepEndDate X
PerformedProcedureStepEndTime X
PerformedProcedureStepID X
PerformedProcedureStepStartDate X
PerformedProcedureStepStartTime X
PerformedStationAETitle X
PerformedStationGeographicLocationCodeSequence X
PerformedStationName X
PerformedStationNameCodeSequence X
PerformingPhysicianIdentificationSequence X
PerformingPhysicianName X
PersonAddress X
PersonIdentificationCodeSequence D
PersonName D
PersonTelecomInformation X
PersonTelephoneNumbers X
PhysicianApprovingInterpretation X
PhysiciansOfRecord X
PhysiciansOfRecordIdentificationSequence X
PhysiciansReadingStudyIdentificationSequence X
PlacerOrderNumberImagingServiceRequest Z
PlateID X
PreMedication X
PregnancyStatus X
ProtocolName X
ReasonForStudy X
ReasonForTheImagingServiceRequest X
ReasonForTheRequestedProcedure X
ReferencedDigitalSignatureSequence X
ReferencedFrameOfReferenceUID U
ReferencedImageSequence U
ReferencedPatientAliasSequence X
ReferencedPatientPhotoSequence X
ReferencedPatientSequence X
ReferencedPerformedProcedureStepSequence X
ReferencedSOPInstanceMACSequence X
ReferencedSOPInstanceUID U
ReferencedSOPInstanceUIDInFile U
ReferencedStudySequence X
ReferringPhysicianAddress X
ReferringPhysicianIdentificationSequence X
ReferringPhysicianName Z
ReferringPhysicianTelephoneNumbers X
RegionOfResidence X
RelatedFrameOfReferenceUID U
RequestAttributesSequence X
RequestedContrastAgent X
RequestedProcedureComments X
RequestedProcedureDescription X
RequestedProcedureID X
RequestedProcedureLocation X
RequestedSOPInstanceUID U
RequestingPhysician X
RequestingService X
ResponsibleOrganization X
ResponsiblePerson X
ResponsiblePersonRole X
ResultsComments X
ResultsDistributionListSequence X
ResultsID X
ResultsIDIssuer X
ReviewerName X
ScheduledHumanPerformersSequence X
ScheduledPatientInstitutionResidence X
ScheduledPerformingPhysicianIdentificationSequence X
ScheduledPerformingPhysicianName X
ScheduledProcedureStepDescription X
ScheduledProcedureStepEndDate X
ScheduledProcedureStepEndTime X
ScheduledProcedureStepID X
ScheduledProcedureStepLocation X
ScheduledProcedureStepStartDate X
ScheduledProcedureStepStartTime X
ScheduledStationAETitle X
ScheduledStationGeographicLocationCodeSequence X
ScheduledStationName X
ScheduledStationNameCodeSequence X
ScheduledStudyLocation X
ScheduledStudyLocationAETitle X
SeriesDate X
SeriesDescription X
SeriesInstanceUID U
SeriesTime X
ServiceEpisodeDescription X
ServiceEpisodeID X
SmokingStatus X
SOPInstanceUID U
SourceImageSequence U
SpecialNeeds X
SpecimenUID U
StationName X
StorageMediaFileSetUID U
StudyComments X
StudyDate Z
StudyDescription X
StudyID Z
StudyIDIssuer X
StudyInstanceUID U
StudyTime Z
SynchronizationFrameOfReferenceUID U
TargetUID U
TemplateExtensionCreatorUID U
TemplateExtensionOrganizationUID U
TextComments X
TextString X
TimezoneOffsetFromUTC X
TopicAuthor X
TopicKeywords X
TopicSubject X
TopicTitle X
TrackingUID U
TransactionUID U
UID U
VerifyingObserverIdentificationCodeSequence Z
VerifyingObserverName D
VerifyingObserverSequence D
VerifyingOrganization X
VisitComments X
"""
E1_1: dict[str, str] = dict(line.split() for line in _E1_1.strip().splitlines())

# What our options change (the method codes in ingest.deidentify name the options):
# Retain Patient Characteristics (limited to age and sex), Clean Descriptors, and
# Retain Longitudinal Temporal Information with Modified Dates, under which every date
# the table would empty or remove but that we keep is shifted (the "shifted" action).
SHIFT = "shift"
OPTION_ACTIONS: dict[str, str] = {
    "PatientAge": K,
    "PatientSex": K,
    "StudyDescription": C,
    "SeriesDescription": C,
    "ProtocolName": C,
    "StudyDate": SHIFT,
    "SeriesDate": SHIFT,
    "AcquisitionDate": SHIFT,
    "ContentDate": SHIFT,
    "AcquisitionDateTime": SHIFT,
    "StudyTime": K,
    "SeriesTime": K,
    "AcquisitionTime": K,
    "ContentTime": K,
}

# Type 2 attributes of the modules every image has: present and empty keeps the file
# conformant (the table's Z).
EMPTY_KEYWORDS = (
    "PatientBirthDate",
    "AccessionNumber",
    "StudyID",
    "ReferringPhysicianName",
    "ContrastBolusAgent",
)

# Text attributes kept as they are: coded values with a small set of defined terms
# that the viewer, the readers and the models need. CS values are also checked against
# the CS character repertoire; AS against its form; anything else is removed.
KEEP_TEXT_KEYWORDS = (
    "SpecificCharacterSet",
    "ImageType",
    "Modality",
    "PatientSex",
    "PatientAge",
    "PatientPosition",
    "PatientOrientation",
    "ViewPosition",
    "Laterality",
    "ImageLaterality",
    "FrameLaterality",
    "PhotometricInterpretation",
    "PresentationLUTShape",
    "PixelIntensityRelationship",
    "VOILUTFunction",
    "RescaleType",
    "LossyImageCompression",
    "LossyImageCompressionMethod",
    "BurnedInAnnotation",
    "RecognizableVisualFeatures",
    "ConversionType",
    "PixelSpacingCalibrationType",
    "PositionReferenceIndicator",
    "Manufacturer",
    "ManufacturerModelName",
    "ConvolutionKernel",
    "FilterType",
    "RotationDirection",
    "ScanOptions",
    "ExposureModulationType",
    "FrameType",
    "VolumetricProperties",
    "VolumeBasedCalculationTechnique",
    "PixelPresentation",
    "ContentQualification",
    "DimensionOrganizationType",
    "SegmentationType",
    "SegmentationFractionalType",
    "SegmentAlgorithmType",
    "MaximumFractionalValue",
    "CodeValue",
    "CodingSchemeDesignator",
    "CodingSchemeVersion",
    "ContextIdentifier",
    "MappingResource",
    "PatientIdentityRemoved",
    "LongitudinalTemporalInformationModified",
    "AnatomicalOrientationType",
    "MultienergyCTAcquisition",
    "SeriesType",
)

# Descriptors kept after cleaning (Clean Descriptors option, see ingest.deid_text).
CLEAN_KEYWORDS = (
    "StudyDescription",
    "SeriesDescription",
    "ProtocolName",
    "BodyPartExamined",
    "CodeMeaning",
    "WindowCenterWidthExplanation",
    "LUTExplanation",
    "SegmentLabel",
    "SegmentDescription",
    "PixelSpacingCalibrationDescription",
)

# Sequences kept (each item de-identified by the same rules, at any depth): references
# between images, geometry and display, anatomy and view codes, multi-frame functional
# groups, segmentation. Every other sequence is removed with all it holds.
KEEP_SEQUENCE_KEYWORDS = (
    "ReferencedImageSequence",
    "SourceImageSequence",
    "DerivationImageSequence",
    "ReferencedSeriesSequence",
    "ReferencedInstanceSequence",
    "StudiesContainingOtherReferencedInstancesSequence",
    "ReferencedFrameOfReferenceSequence",
    "PurposeOfReferenceCodeSequence",
    "DerivationCodeSequence",
    "AnatomicRegionSequence",
    "AnatomicRegionModifierSequence",
    "PrimaryAnatomicStructureSequence",
    "PrimaryAnatomicStructureModifierSequence",
    "ViewCodeSequence",
    "ViewModifierCodeSequence",
    "PatientOrientationCodeSequence",
    "PatientGantryRelationshipCodeSequence",
    "CTDIPhantomTypeCodeSequence",
    "ModalityLUTSequence",
    "VOILUTSequence",
    "SoftcopyVOILUTSequence",
    "RealWorldValueMappingSequence",
    "MeasurementUnitsCodeSequence",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "PixelMeasuresSequence",
    "PlanePositionSequence",
    "PlaneOrientationSequence",
    "FrameContentSequence",
    "FrameVOILUTSequence",
    "PixelValueTransformationSequence",
    "FrameAnatomySequence",
    "CTImageFrameTypeSequence",
    "MRImageFrameTypeSequence",
    "CTAcquisitionTypeSequence",
    "CTGeometrySequence",
    "CTReconstructionSequence",
    "CTExposureSequence",
    "CTXRayDetailsSequence",
    "CTPositionSequence",
    "CTTableDynamicsSequence",
    "MRTimingAndRelatedParametersSequence",
    "MREchoSequence",
    "MRDiffusionSequence",
    "MRFOVGeometrySequence",
    "TemporalPositionSequence",
    "IrradiationEventIdentificationSequence",
    "PlanePositionVolumeSequence",
    "PlaneOrientationVolumeSequence",
    "DimensionOrganizationSequence",
    "DimensionIndexSequence",
    "SegmentSequence",
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentedPropertyTypeModifierCodeSequence",
    "SegmentIdentificationSequence",
    "DeidentificationMethodCodeSequence",
)

# Binary (OB/OW/OF/...) attributes kept: pixel data and lookup tables. Everything else
# binary (encapsulated documents, icon images, trailing padding...) is removed.
KEEP_BINARY_KEYWORDS = (
    "PixelData",
    "FloatPixelData",
    "DoubleFloatPixelData",
    "FileMetaInformationVersion",
    "LUTData",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "AlphaPaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
    "SegmentedAlphaPaletteColorLookupTableData",
    "ICCProfile",
)

# UIDs naming a class or scheme, not an instance: replacing them would break the file.
KEEP_UID_KEYWORDS = (
    "SOPClassUID",
    "ReferencedSOPClassUID",
    "MediaStorageSOPClassUID",
    "AffectedSOPClassUID",
    "RequestedSOPClassUID",
    "ReferencedSOPClassUIDInFile",
    "RelatedGeneralSOPClassUID",
    "OriginalSpecializedSOPClassUID",
    "TransferSyntaxUID",
    "ReferencedTransferSyntaxUIDInFile",
    "ImplementationClassUID",
    "CodingSchemeUID",
    "ContextGroupExtensionCreatorUID",
    "ContextUID",
    "MappingResourceUID",
)

# Retain Safe Private option: (group, private creator, element offset) -> VR of the
# private attributes kept. Only numeric ones known to hold no identity (PS3.15 E.3.10
# lists safe private attributes); every other private tag is removed.
SAFE_PRIVATE: dict[tuple[int, str, int], str] = {
    # Philips MR rescale slope, needed for quantitative MR values.
    (0x2005, "Philips MR Imaging DD 001", 0x0E): "FL",
}

# Attributes whose values name the people and places of the original: their words are
# cut out of kept descriptors (with every person name (PN) found anywhere).
NAME_SOURCE_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "AccessionNumber",
    "StudyID",
    "IssuerOfPatientID",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "PerformedStationName",
    "ScheduledStationName",
    "PerformedLocation",
    "ScheduledProcedureStepLocation",
    "ScheduledStudyLocation",
    "RequestedProcedureLocation",
    "CurrentPatientLocation",
    "ResponsibleOrganization",
    "HumanPerformerOrganization",
    "VerifyingOrganization",
    "DeviceSerialNumber",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PersonTelephoneNumbers",
    "ReferringPhysicianTelephoneNumbers",
    "MedicalRecordLocator",
    "AdmissionID",
    "ServiceEpisodeID",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
)

# Numeric VRs: values that hold measurements, counts and geometry, not names. A public
# attribute with one of these VRs is kept unless Table E.1-1 removes it, provided its
# value is well formed (DS/IS characters, binary lengths a multiple of the item size).
NUMERIC_ITEM_SIZES = {
    "US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "SV": 8, "UV": 8, "AT": 4,
    "OF": 4, "OD": 8, "OL": 4, "OV": 8,
}  # fmt: skip
NUMBER_STRING_VRS = frozenset({"DS", "IS"})
BINARY_VRS = frozenset({"OB", "OW", "UN"})


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:  # pragma: no cover - guarded by a test
        raise LookupError(f"unknown DICOM keyword {keyword!r}")
    return tag


def tags(keywords) -> frozenset[int]:
    return frozenset(_tag(keyword) for keyword in keywords)


def applied_action(keyword: str) -> str:
    """What we do to an attribute the table names, our options applied."""
    return OPTION_ACTIONS.get(keyword, E1_1[keyword])


# Attributes the table removes or blanks and no option of ours keeps: removed wherever
# they occur (Z ones that are Type 2 in image modules are emptied instead, see EMPTY).
REMOVE_TAGS = tags(k for k in E1_1 if applied_action(k) in (X, Z, D) and k not in EMPTY_KEYWORDS)
EMPTY_TAGS = tags(EMPTY_KEYWORDS)
KEEP_TEXT_TAGS = tags(KEEP_TEXT_KEYWORDS)
CLEAN_TAGS = tags(CLEAN_KEYWORDS)
KEEP_SEQUENCE_TAGS = tags(KEEP_SEQUENCE_KEYWORDS)
KEEP_BINARY_TAGS = tags(KEEP_BINARY_KEYWORDS)
KEEP_UID_TAGS = tags(KEEP_UID_KEYWORDS)
NAME_SOURCE_TAGS = tags(NAME_SOURCE_KEYWORDS)


@lru_cache(maxsize=4096)
def dictionary_vrs(tag: int) -> tuple[str, ...] | None:
    """The VRs the data dictionary allows for a public tag ('US or SS' -> both); None
    for a tag it does not know."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return None
    return tuple(part.strip() for part in vr.split(" or "))
