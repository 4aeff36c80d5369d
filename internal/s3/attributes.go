package s3

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/s3fed/s3fed/internal/storage"
)

// GetObjectAttributes (GET ?attributes): an object's ETag, checksum, parts,
// storage class and size in one answer, without its bytes. Which ones is
// the x-amz-object-attributes header's list; parts page by
// x-amz-max-parts and x-amz-part-number-marker.

type objectAttributesXML struct {
	XMLName      xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ GetObjectAttributesResponse"`
	ETag         string          `xml:"ETag,omitempty"`
	Checksum     *checksumXML    `xml:"Checksum,omitempty"`
	ObjectParts  *objectPartsXML `xml:"ObjectParts,omitempty"`
	StorageClass string          `xml:"StorageClass,omitempty"`
	ObjectSize   *int64          `xml:"ObjectSize,omitempty"`
}

type objectPartsXML struct {
	IsTruncated          bool            `xml:"IsTruncated"`
	MaxParts             int             `xml:"MaxParts"`
	NextPartNumberMarker int             `xml:"NextPartNumberMarker"`
	PartNumberMarker     int             `xml:"PartNumberMarker"`
	Parts                []objectPartXML `xml:"Part"`
	PartsCount           int             `xml:"PartsCount"`
}

type objectPartXML struct {
	checksumXML
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}

// objectAttributeNames are the values x-amz-object-attributes may list.
var objectAttributeNames = map[string]bool{"ETag": true, "Checksum": true, "ObjectParts": true, "StorageClass": true, "ObjectSize": true}

func (rq *request) getObjectAttributes() error {
	h := rq.r.Header
	want := map[string]bool{}
	for _, v := range h.Values("X-Amz-Object-Attributes") {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if !objectAttributeNames[a] {
				return errInvalidArgument("Invalid attribute name specified: " + truncate(a, 64))
			}
			want[a] = true
		}
	}
	if len(want) == 0 {
		return errInvalidRequest("The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	maxParts, err := parseMaxInt(h.Get("X-Amz-Max-Parts"), "x-amz-max-parts", MaxKeys, MaxKeys)
	if err != nil {
		return err
	}
	marker, err := parseMaxInt(h.Get("X-Amz-Part-Number-Marker"), "x-amz-part-number-marker", 0, storage.MaxParts)
	if err != nil {
		return err
	}
	var (
		info  storage.ObjectInfo
		parts []storage.ObjectPart
	)
	if pl, ok := rq.s.backend.(storage.ObjectPartLister); ok {
		info, parts, err = pl.ObjectParts(rq.ctx, rq.bucket, rq.key)
	} else {
		info, err = rq.s.backend.HeadObject(rq.ctx, rq.bucket, rq.key)
	}
	if err != nil {
		return fmt.Errorf("object attributes: %w", err)
	}
	out := objectAttributesXML{}
	if want["ETag"] {
		out.ETag = info.ETag // unquoted here, as S3 answers it
	}
	if want["Checksum"] && info.Checksum != nil && info.Checksum.Value != "" {
		c := checksumElems(info.Checksum)
		out.Checksum = &c
	}
	if want["StorageClass"] {
		out.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		size := info.Size
		out.ObjectSize = &size
	}
	if want["ObjectParts"] && len(parts) > 0 {
		op := &objectPartsXML{MaxParts: maxParts, PartNumberMarker: marker, PartsCount: len(parts)}
		for _, p := range parts {
			if p.PartNumber <= marker {
				continue
			}
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			px := objectPartXML{PartNumber: p.PartNumber, Size: p.Size}
			if p.Checksum != "" && info.Checksum != nil {
				px.set(info.Checksum.Algorithm, "", p.Checksum)
			}
			op.Parts = append(op.Parts, px)
			op.NextPartNumberMarker = p.PartNumber
		}
		out.ObjectParts = op
	}
	rq.w.Header().Set("Last-Modified", httpTime(info.LastModified))
	if _, ok := rq.query["versionId"]; ok {
		setAmzHeader(rq.w.Header(), "x-amz-version-id", nullVersion)
	}
	return rq.writeXML(out)
}
