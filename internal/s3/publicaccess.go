package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// PublicAccessBlock is a bucket's S3 Block Public Access configuration.
// Every bucket s3fed creates has all four settings on, as AWS does since
// 2023. This package stores and answers it, and refuses a public bucket
// policy while BlockPublicPolicy is on; what anonymous requests may do is
// the authorizer's decision.
type PublicAccessBlock struct {
	BlockPublicAcls       bool
	IgnorePublicAcls      bool
	BlockPublicPolicy     bool
	RestrictPublicBuckets bool
}

// defaultPublicAccessBlock is every new bucket's configuration.
var defaultPublicAccessBlock = PublicAccessBlock{true, true, true, true}

// PublicAccessBlockStore is an optional Buckets capability: replacing a
// bucket's Block Public Access configuration (nil removes it); Owner then
// reports it in BucketRecord.PublicAccessBlock. Without it,
// PutPublicAccessBlock and DeletePublicAccessBlock are NotImplemented.
type PublicAccessBlockStore interface {
	SetPublicAccessBlock(ctx context.Context, bucket string, pab *PublicAccessBlock) error
}

// ErrPublicAccessBlockUnsupported is what a Buckets wrapper returns when
// the store it wraps keeps no Block Public Access configurations.
var ErrPublicAccessBlockUnsupported = errors.New("s3: the bucket store keeps no Block Public Access configurations")

type publicAccessBlockXML struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	XMLNS                 string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

func (rq *request) getPublicAccessBlock() error {
	pab := rq.owner.PublicAccessBlock
	if pab == nil {
		return newError("NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found")
	}
	return rq.writeXML(publicAccessBlockXML{XMLNS: s3NS, BlockPublicAcls: pab.BlockPublicAcls, IgnorePublicAcls: pab.IgnorePublicAcls,
		BlockPublicPolicy: pab.BlockPublicPolicy, RestrictPublicBuckets: pab.RestrictPublicBuckets})
}

func (rq *request) putPublicAccessBlock() error {
	var doc publicAccessBlockXML
	if _, err := rq.readXMLBody(&doc, 64<<10, false); err != nil {
		return err
	}
	return rq.setPublicAccessBlock(&PublicAccessBlock{doc.BlockPublicAcls, doc.IgnorePublicAcls, doc.BlockPublicPolicy, doc.RestrictPublicBuckets}, http.StatusOK)
}

func (rq *request) deletePublicAccessBlock() error {
	if err := rq.drainBody(0); err != nil {
		return err
	}
	return rq.setPublicAccessBlock(nil, http.StatusNoContent)
}

func (rq *request) setPublicAccessBlock(pab *PublicAccessBlock, status int) error {
	ps, ok := rq.s.buckets.(PublicAccessBlockStore)
	if !ok {
		return errNotImplemented("This s3fed bucket store keeps no Block Public Access configurations.")
	}
	if err := ps.SetPublicAccessBlock(rq.ctx, rq.bucket, pab); err != nil {
		if errors.Is(err, ErrPublicAccessBlockUnsupported) {
			return errNotImplemented("This s3fed bucket store keeps no Block Public Access configurations.")
		}
		return fmt.Errorf("set public access block of %q: %w", rq.bucket, err)
	}
	if status == http.StatusOK {
		rq.w.Header().Set("Content-Length", "0")
	}
	rq.w.WriteHeader(status)
	return nil
}

type policyStatusXML struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ PolicyStatus"`
	IsPublic bool     `xml:"IsPublic"`
}

// getBucketPolicyStatus answers whether the bucket's policy is public
// (Config.PolicyIsPublic decides; s3fed buckets have no ACLs to add to it,
// and a bucket without a policy is not public).
func (rq *request) getBucketPolicyStatus() error {
	public := false
	if len(rq.policy) > 0 && rq.s.isPublic != nil {
		public = rq.s.isPublic(rq.bucket, rq.policy)
	}
	return rq.writeXML(policyStatusXML{IsPublic: public})
}

// refusePublicPolicy applies BlockPublicPolicy to PutBucketPolicy: while it
// is on, a public policy is refused with AWS's answer (403 AccessDenied).
func (rq *request) refusePublicPolicy(doc []byte) error {
	pab := rq.owner.PublicAccessBlock
	if pab == nil || !pab.BlockPublicPolicy || rq.s.isPublic == nil || !rq.s.isPublic(rq.bucket, doc) {
		return nil
	}
	return errAccessDenied("Access Denied: the bucket's Block Public Access setting BlockPublicPolicy refuses a public bucket policy; turn it off with PutPublicAccessBlock first")
}
